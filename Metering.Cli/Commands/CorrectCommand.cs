using Metering.Cli.Arguments;
using Metering.Ledger.Corrections;
using Metering.Rating.Accounts;
using Metering.Rating.Periods;
using Metering.Web.Api;

namespace Metering.Cli.Commands;

/// <summary>
/// <c>metering correct void|amend|credit|debit</c>: books one correction (the same validation and store as
/// <c>POST /v1/accounts/{account}/corrections</c>); one instance per kind.
/// </summary>
public sealed class CorrectCommand : ICliCommand
{
    private readonly CorrectionKind _kind;
    private readonly TextWriter? _output;
    private readonly TextWriter? _error;

    /// <summary>The command for <paramref name="kind"/>, writing to the console.</summary>
    public CorrectCommand(CorrectionKind kind)
    {
        _kind = kind;
        Name = ["correct", CorrectionRequest.KindName(kind)];
    }

    /// <summary>Writes its output to <paramref name="output"/> and refusals to <paramref name="error"/> (tests).</summary>
    public CorrectCommand(CorrectionKind kind, TextWriter output, TextWriter error)
        : this(kind)
    {
        _output = output;
        _error = error;
    }

    public IReadOnlyList<string> Name { get; }

    public string Summary => _kind switch
    {
        CorrectionKind.Void => "void one usage event by id (its quantity becomes 0), idempotent and audited",
        CorrectionKind.Amend => "give one usage event a new quantity, idempotent and audited",
        CorrectionKind.Credit => "book a manual credit (money back to the account) with a reason, idempotent and audited",
        _ => "book a manual debit (money charged to the account) with a reason, idempotent and audited",
    };

    public string Usage
    {
        get
        {
            var name = CorrectionRequest.KindName(_kind);
            var what = _kind switch
            {
                CorrectionKind.Void => "--event-id ID --sku SKU --event-time T --original-quantity Q [--dimensions k=v,...]",
                CorrectionKind.Amend => "--event-id ID --sku SKU --event-time T --original-quantity Q --new-quantity N [--dimensions k=v,...]",
                _ => "--amount X --currency C [--period P]",
            };
            var fields = _kind is CorrectionKind.Void or CorrectionKind.Amend
                ? "  --event-id ID, --sku SKU   the event as it was sent (the records' identifier rules)\n" +
                  "  --event-time T             its time, RFC 3339 with an offset; within --correction-horizon, not in the future\n" +
                  "  --original-quantity Q      the quantity it was recorded with, or its last amend's new quantity\n" +
                  (_kind == CorrectionKind.Amend ? "  --new-quantity N           its corrected quantity (0 or more, at most 9 fractional digits)\n" : "") +
                  "  --dimensions k=v,k2=v2     its dimensions, for a SKU whose price groups its lines by them (group_by)\n" +
                  CorrectionArguments.Usage
                : "  --amount X                 above 0, at most the currency's minor digits (the kind gives the sign)\n" +
                  "  --currency C               ISO 4217, e.g. USD\n" +
                  "  --period P                 the open period to book into: YYYY-MM-DD (its start) or YYYY-MM (default: the open period now)\n";
            return $"usage: metering correct {name} --account A {what} --reason TEXT --idempotency-key K [--actor NAME] [--pricebook FILE] [ledger options]\n\n" +
                "  --account A                the account\n" +
                fields +
                "  --reason TEXT              why (required, at most 1000 bytes), kept in the audit\n" +
                "  --idempotency-key K        your key for this correction (1-128 bytes): running the same command again is a no-op\n" +
                "  --actor NAME               who asks, audited as cli:NAME (default: the OS user)\n" +
                "  --pricebook FILE           the list price book whose billing periods apply (default examples/pricebooks/list.json)\n" +
                LedgerArguments.Usage +
                "\nPrints created or replayed. exit codes: 0 created or replayed, 1 refused by the ledger or the key was used for\n" +
                "another correction (the reason on stderr), 2 invalid options (each named)";
        }
    }

    /// <summary>"--dimensions region=eu,colo=fra": the event's dimensions (null when absent); a pair without '=' is a usage error.</summary>
    private static Dictionary<string, string>? DimensionsOption(string? text)
    {
        if (text is null)
        {
            return null;
        }

        var dimensions = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !dimensions.TryAdd(pair[..eq], pair[(eq + 1)..]))
            {
                throw new CliUsageException($"--dimensions takes key=value pairs separated by commas, each key once; got '{pair}'");
            }
        }

        return dimensions;
    }

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        // Every field is read whatever the kind, so a field the kind does not take is named by the validation, not "unknown".
        var input = new CorrectionInput(args.String("account"), CorrectionRequest.KindName(_kind), args.String("idempotency-key"), args.String("event-id"),
            args.String("sku"), args.String("event-time"), args.String("original-quantity"), args.String("new-quantity"), args.String("amount"),
            args.String("currency"), args.String("period"), args.String("reason"))
        {
            Dimensions = DimensionsOption(args.String("dimensions")),
        };
        var actor = args.String("actor");
        if (actor is not null && (actor.Length == 0 || actor.Any(char.IsControl)))
        {
            throw new CliUsageException("--actor must be a name without control characters");
        }

        var horizon = CorrectionArguments.Horizon(args);
        var prices = LedgerArguments.Prices(args);
        args.RejectUnknown(LedgerArguments.Options);
        var validation = CorrectionRequest.Validate(input, "cli:" + (actor ?? Environment.UserName), UsageRequest.IdentifierProblem);
        if (!validation.IsValid)
        {
            // The API's field names, as options: event_id -> --event-id.
            throw new CliUsageException(string.Join("\n", validation.Problems.Select(p => $"--{p.Key.Replace('_', '-')} {string.Join(", ", p.Value)}")));
        }

        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        var write = await CorrectionStore.WriteAsync(db, validation.Request!, prices?.List?.Periods ?? BillingPeriodRule.CalendarMonth, DateTimeOffset.UtcNow, horizon, cancellationToken, prices).ConfigureAwait(false);
        var error = _error ?? Console.Error;
        switch (write.Status)
        {
            case CorrectionWriteStatus.Created or CorrectionWriteStatus.Replayed:
                var status = write.Status == CorrectionWriteStatus.Created ? "created" : "replayed";
                await (_output ?? Console.Out).WriteLineAsync($"correction {write.Correction!.Id}: {status}: {Describe(write.Correction)}").ConfigureAwait(false);
                return 0;
            case CorrectionWriteStatus.IdempotencyConflict:
                await error.WriteLineAsync($"correct {CorrectionRequest.KindName(_kind)}: idempotency conflict: --idempotency-key '{validation.Request!.IdempotencyKey}' was used for correction {write.Correction!.Id} with other values of {string.Join(", ", write.DifferingFields.Select(f => "--" + f.Replace('_', '-')))}; use a new key for a new correction").ConfigureAwait(false);
                return 1;
            default:
                await error.WriteLineAsync($"correct {CorrectionRequest.KindName(_kind)}: refused ({write.Refusal!.Code}): --{write.Refusal.Field.Replace('_', '-')}: {write.Refusal.Message}").ConfigureAwait(false);
                return 1;
        }
    }

    /// <summary>One line: "void of event e-1 (sku api.calls at 2026-11-20T10:00:00Z) 5 -> 0 (delta -5), booked into 2026-11-01T00:00:00Z, by cli:ops: duplicate upload".</summary>
    internal static string Describe(StoredCorrection c)
    {
        var what = c.Kind is CorrectionKind.Void or CorrectionKind.Amend
            ? $"{CorrectionRequest.KindName(c.Kind)} of event {c.EventId} (sku {c.Sku} at {AccountTerms.Format(c.EventTime!.Value)}) {CorrectionRequest.Quantity(c.OriginalQuantity!.Value)} -> {CorrectionRequest.Quantity(c.NewQuantity!.Value)} (delta {CorrectionRequest.Quantity(c.QuantityDelta!.Value)})"
            : $"{CorrectionRequest.KindName(c.Kind)} of {CorrectionRequest.Quantity(c.Amount!.Value)} {c.Currency}";
        return $"{c.Account}: {what}, booked into the period starting {AccountTerms.Format(c.BookedPeriodStart)}, key {c.IdempotencyKey}, by {c.Actor} at {AccountTerms.Format(c.CreatedAt)}: {c.Reason}";
    }
}
