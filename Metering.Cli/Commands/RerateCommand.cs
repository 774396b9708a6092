using System.Globalization;
using System.Text.Json;
using Metering.Cli.Arguments;
using Metering.Ledger.Statements;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Metering.Rating.Statements;
using Metering.Web.Api;

namespace Metering.Cli.Commands;

/// <summary>
/// <c>metering rerate</c>: re-rates a closed period under a draft price book and prints the exact line difference per
/// account against the period as billed (<see cref="Rerater"/>, docs/statements.md "Re-rating"); writes nothing unless
/// <c>--apply</c>, which books the lines into the first open period.
/// </summary>
public sealed class RerateCommand : ICliCommand
{
    private readonly TextWriter? _output;

    /// <summary>Writes to the console.</summary>
    public RerateCommand()
    {
    }

    /// <summary>Writes its output to <paramref name="output"/> (tests).</summary>
    public RerateCommand(TextWriter output) => _output = output;

    public IReadOnlyList<string> Name { get; } = ["rerate"];

    public string Summary => "re-rate a closed period under a draft price book: the exact line difference against its final statements; --apply books it into the open period";

    public string Usage => "usage: metering rerate --period P --pricebook DRAFT.json [--contracts F1,F2] [--billing-pricebook FILE] [--billing-contracts F1,F2]\n" +
        "                       [--account A] [--format text|json] [--apply --reason R [--idempotency-key K] [--actor A] [--force]] [ledger options]\n\n" +
        "  --period P                 the closed period: YYYY-MM-DD (its start date) or YYYY-MM (a calendar month)\n" +
        "  --pricebook DRAFT.json     the draft list price book to rate the period under\n" +
        "  --contracts F1,F2          the draft's contract price books\n" +
        "  --billing-pricebook FILE   the list book the period was billed with (default: the price-book registry's, which the\n" +
        "                             engine and the close rated from; examples/pricebooks/list.json when it holds none)\n" +
        "  --billing-contracts F1,F2  the contract books it was billed with\n" +
        "  --account A                re-rate only this account (default: every account with a final statement)\n" +
        "  --format text|json         text (default): one line per difference line, totals per account and currency; json: the API's answer\n" +
        "  --apply                    book the difference as adjustment lines (kind rerate) into the first open period after P\n" +
        "  --reason R                 why (required with --apply)\n" +
        "  --idempotency-key K        the batch's name; the same key again replays the stored batch (default: a generated one, printed)\n" +
        "  --actor A                  who applies it (default cli:USER)\n" +
        "  --force                    apply although the period is already re-rated for an account (the earlier lines are taken back)\n" +
        LedgerArguments.Usage +
        "\nWithout --apply nothing is written. exit codes: 0 done, 1 refused (open period, no final statement, already re-rated, key reused,\n" +
        "billing books that do not reproduce the final statements), 2 usage error";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var start = args.RequiredPeriodStart("period");
        var format = args.String("format", "text");
        if (format is not ("text" or "json"))
        {
            throw new CliUsageException($"--format: '{format}' is not text or json");
        }

        var billingPath = args.String("billing-pricebook");
        var billingContracts = args.String("billing-contracts");
        var billingFiles = billingPath is null ? null : Catalog(billingPath, billingContracts, "--billing-pricebook");
        var draft = Catalog(args.Required("pricebook"), args.String("contracts"), "--pricebook");
        var account = args.String("account");
        var apply = args.Has("apply");
        var reason = args.String("reason");
        var key = args.String("idempotency-key");
        var actor = args.String("actor", "cli:" + Environment.UserName)!;
        var force = args.Has("force");
        if (!apply && (reason is not null || key is not null || force))
        {
            throw new CliUsageException("--reason, --idempotency-key and --force only go with --apply");
        }

        if (apply && string.IsNullOrWhiteSpace(reason))
        {
            throw new CliUsageException("--apply needs --reason R: why the period is re-rated");
        }

        args.RejectUnknown(LedgerArguments.Options);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        // What the period was billed with: the registry's books (docs/pricebooks.md, "The registry") unless named.
        var billing = billingFiles ?? (billingContracts is null ? await RegistryCatalogAsync(db, cancellationToken).ConfigureAwait(false) : null)
            ?? Catalog(DefaultPriceBook() ?? throw new CliUsageException("--billing-pricebook is required: the registry holds no list book and there is no examples/pricebooks/list.json here"),
                billingContracts, "--billing-pricebook");
        var rule = billing.List?.Periods ?? BillingPeriodRule.CalendarMonth;
        var period = rule.PeriodOf(start);
        if (period.Start != start)
        {
            throw new CliUsageException($"--period: {start:yyyy-MM-dd} is not the start of a billing period (the period containing it is {period})");
        }

        RerateResult result;
        try
        {
            result = apply
                ? await Rerater.ApplyAsync(db, period, rule, billing, draft, account, new RerateApplyRequest(reason!, key, actor, force), cancellationToken).ConfigureAwait(false)
                : await Rerater.PreviewAsync(db, period, billing, draft, account, cancellationToken).ConfigureAwait(false);
        }
        catch (RerateException e)
        {
            Console.Error.WriteLine("rerate: refused: " + e.Message);
            return 1;
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException(e.Message);
        }

        var output = _output ?? Console.Out;
        await output.WriteAsync(format == "json" ? JsonSerializer.Serialize(RerateResponses.Of(result), ApiJson.Options) + "\n" : Text(result)).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return 0;
    }

    /// <summary>The text report: one line per difference line, a total per account and currency, the grand totals and the counts.</summary>
    internal static string Text(RerateResult result)
    {
        var text = new System.Text.StringBuilder();
        var replay = result.Application is { Replay: true };
        foreach (var a in result.Accounts.Where(RerateResponses.Listed))
        {
            if (!a.BaselineMatchesFinal)
            {
                text.Append(a.Account).Append("  warning: the billing books do not reproduce its final statement; the lines below are not against what was billed\n");
            }

            foreach (var d in RerateResponses.Describe(a, a.Lines))
            {
                text.Append(Line(a.Account, d)).Append('\n');
            }

            foreach (var t in Sums(a.Lines))
            {
                text.Append(a.Account).Append("  total  ").Append(Signed(t.Value, t.Key)).Append(' ').Append(t.Key).Append('\n');
            }

            if (a.EarlierApplied.Count > 0)
            {
                text.Append(a.Account).Append(CultureInfo.InvariantCulture, $"  already re-rated: {a.EarlierApplied.Count} line(s) booked for this period; ")
                    .Append(result.Application is null ? "an apply needs --force and then books:" : "booked (forced):").Append('\n');
                foreach (var d in RerateResponses.Describe(a, a.ToBook))
                {
                    text.Append("  ").Append(Line(a.Account, d)).Append('\n');
                }
            }
        }

        var changed = result.Accounts.Count(a => a.Lines.Count > 0 || a.ToBook.Count > 0);
        foreach (var t in Sums(result.Accounts.SelectMany(a => a.Lines)))
        {
            text.Append("total  ").Append(Signed(t.Value, t.Key)).Append(' ').Append(t.Key).Append('\n');
        }

        text.Append(CultureInfo.InvariantCulture, $"period {result.Period}: {result.AccountsCompared:N0} account(s) compared, {changed:N0} changed, {result.AccountsCompared - changed:N0} no change\n");
        if (result.Application is { } p)
        {
            text.Append(replay
                ? $"replay: batch {p.Batch} was applied at {p.CreatedAt:O} ({p.LinesBooked:N0} line(s) into period {p.BookedInto}); nothing written now\n"
                : $"applied: batch {p.Batch}: {p.LinesBooked:N0} line(s) booked into period {p.BookedInto}{(p.Forced ? " (forced)" : "")}\n");
        }
        else
        {
            text.Append("nothing written (preview); --apply --reason R books these lines\n");
        }

        return text.ToString();
    }

    private static string Line(string account, RerateLine d)
    {
        var l = d.Line;
        var quantity = l.Quantity is { } q ? "  quantity " + Number(q) : "";
        var change = d.Before is { } before && d.After is { } after
            ? $"  {DecimalText.Money(before, l.Currency)} -> {DecimalText.Money(after, l.Currency)} {l.Currency}  {Signed(l.Amount, l.Currency)}"
            : $"  {Signed(l.Amount, l.Currency)} {l.Currency}";
        return $"{account}  {d.Subject}{quantity}{change}";
    }

    private static SortedDictionary<string, decimal> Sums(IEnumerable<AdjustmentLine> lines)
    {
        var sums = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var l in lines)
        {
            sums[l.Currency] = sums.GetValueOrDefault(l.Currency) + l.Amount;
        }

        return sums;
    }

    private static string Signed(decimal amount, string currency) => (amount > 0 ? "+" : "") + DecimalText.Money(amount, currency);

    private static string Number(decimal value) => DecimalText.Quantity(value);

    /// <summary>The registry's catalog; null when it holds no list book.</summary>
    private static async Task<PriceCatalog?> RegistryCatalogAsync(Npgsql.NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        try
        {
            return (await Ledger.PriceBooks.PriceBookRegistry.LoadAsync(db, null, cancellationToken).ConfigureAwait(false)).Catalog;
        }
        catch (Ledger.PriceBooks.PriceBookRegistryException e)
        {
            throw new CliUsageException("--billing-pricebook: " + e.Message, showUsage: false);
        }
    }

    private static PriceCatalog Catalog(string listPath, string? contractPaths, string option)
    {
        try
        {
            var list = PriceBookLoader.LoadFile(listPath);
            var contracts = (contractPaths ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(c => PriceBookLoader.LoadFile(c, list)).ToList();
            return new PriceCatalog(list, contracts);
        }
        catch (PriceBookException e)
        {
            throw new CliUsageException(option + ": " + e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new CliUsageException($"{option}: {e.Message}");
        }
    }

    /// <summary>examples/pricebooks/list.json in the working directory, else the copy next to the program (as the other commands default).</summary>
    private static string? DefaultPriceBook() =>
        new[] { Path.Combine("examples", "pricebooks", "list.json"), Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "list.json") }
            .FirstOrDefault(File.Exists);
}
