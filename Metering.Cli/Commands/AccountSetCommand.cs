using System.Globalization;
using Metering.Cli.Arguments;
using Metering.Ledger.Accounts;
using Metering.Rating.Accounts;
using Metering.Web.Api;

namespace Metering.Cli.Commands;

/// <summary><c>metering account set</c>: creates or replaces an account's terms (the same validation and store as <c>PUT /v1/accounts/{account}</c>).</summary>
public sealed class AccountSetCommand : ICliCommand
{
    private readonly TextWriter? _output;

    /// <summary>Writes to the console.</summary>
    public AccountSetCommand()
    {
    }

    /// <summary>Writes its output to <paramref name="output"/> (tests).</summary>
    public AccountSetCommand(TextWriter output) => _output = output;

    public IReadOnlyList<string> Name { get; } = ["account", "set"];

    public string Summary => "set an account's terms: billing currency, price books, subscription start/end, billing-period anchor and time zone";

    public string Usage => "usage: metering account set --account A --currency C --list-book ID [--contract-book ID] --start T [--end T]\n" +
        "                            [--time-zone Z] [--anchor-day N] [--reason TEXT] [ledger options]\n\n" +
        "  --account A          the account (1-128 UTF-8 bytes, the records' identifier rules)\n" +
        "  --currency C         billing currency, ISO 4217 (upper case), e.g. USD\n" +
        "  --list-book ID       the list price book's id; --contract-book ID the account's contract book\n" +
        "  --start T, --end T   the subscription [start, end): RFC 3339 instants with an offset, e.g. 2026-11-15T00:00:00Z\n" +
        "  --anchor-day N       billing periods start on day N (1-28) of each month (default: the list book's)\n" +
        "  --time-zone Z        ... at local midnight in IANA zone Z, e.g. Europe/Berlin (default UTC)\n" +
        "  --reason TEXT        why, kept in the audit with the previous terms\n" +
        LedgerArguments.Usage +
        "\nPrints created, updated or unchanged: setting the same terms again writes nothing. Exit 2 on invalid terms, naming each option.";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var anchorText = args.String("anchor-day");
        int? anchor = null;
        if (anchorText is not null)
        {
            anchor = int.TryParse(anchorText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var day)
                ? day
                : throw new CliUsageException($"--anchor-day must be a whole day of month from 1 to {AccountTerms.MaxAnchorDay}, got '{anchorText}'");
        }

        var reason = args.String("reason");
        var input = new AccountTermsInput(args.String("account"), args.String("currency"), args.String("list-book"), args.String("contract-book"),
            args.String("start"), args.String("end"), anchor, args.String("time-zone"), reason);
        args.RejectUnknown(LedgerArguments.Options);
        var validation = AccountTerms.Validate(input, UsageRequest.IdentifierProblem);
        if (!validation.IsValid)
        {
            // The API's field names, as options: list_book -> --list-book.
            throw new CliUsageException(string.Join("\n", validation.Problems.Select(p => $"--{p.Key.Replace('_', '-')} {string.Join(", ", p.Value)}")));
        }

        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        AccountWrite write;
        try
        {
            write = await AccountStore.SetAsync(db, validation.Terms!, "cli:" + Environment.UserName, reason, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is PeriodRuleInUseException or CurrencyInUseException)
        {
            Console.Error.WriteLine("account set: refused: " + e.Message);
            return 1;
        }

        var status = write.Status switch { AccountWriteStatus.Created => "created", AccountWriteStatus.Updated => "updated", _ => "unchanged" };
        (_output ?? Console.Out).WriteLine($"account {write.Account.Terms.Account}: {status}: {AccountListCommand.Describe(write.Account.Terms)}");
        return 0;
    }
}
