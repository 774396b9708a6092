using Metering.Cli.Arguments;
using Metering.Ledger.PeriodClose;
using Metering.Rating.Periods;

namespace Metering.Cli.Commands;

/// <summary><c>metering period close</c>: freezes a billing period's totals; later usage for it becomes adjustments.</summary>
public sealed class PeriodCloseCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["period", "close"];

    public string Summary => "close a billing period: its totals are final; late usage is booked as adjustments in the open period";

    public string Usage => "usage: metering period close --period P [--force] [--pricebook FILE] [ledger options]\n\n" +
        "  --period P                 the period: YYYY-MM-DD (its start date) or YYYY-MM (a calendar month)\n" +
        "  --force                    close a period that has not ended yet (the rest of its usage becomes adjustments)\n" +
        "  --pricebook FILE           the list price book whose billing periods apply (default examples/pricebooks/list.json)\n" +
        LedgerArguments.Usage +
        "\nClosing is idempotent and waits for flushes in flight. exit codes: 0 closed (or already closed), 1 refused, 2 usage error";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var start = args.RequiredPeriodStart("period");

        var force = args.Has("force");
        var prices = LedgerArguments.Prices(args);
        args.RejectUnknown(LedgerArguments.Options);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        try
        {
            var result = await PeriodCloser.CloseAsync(db, start, cancellationToken, prices?.List?.Periods ?? BillingPeriodRule.CalendarMonth, force: force).ConfigureAwait(false);
            var amounts = result.AmountByCurrency.Count == 0 ? "no usage" : string.Join(", ", result.AmountByCurrency.Select(a => $"{a.Value} {a.Key}"));
            Console.Out.WriteLine($"period {result.Period}: {(result.AlreadyClosed ? "was already closed" : "closed")}; {result.Totals:N0} totals, {amounts}");
            return 0;
        }
        catch (PeriodCloseException e)
        {
            Console.Error.WriteLine("period close: refused: " + e.Message);
            return 1;
        }
    }
}
