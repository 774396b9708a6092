using Metering.Cli.Arguments;
using Metering.Ledger.PeriodClose;
using Metering.Rating.Periods;

namespace Metering.Cli.Commands;

/// <summary><c>metering period close</c>: freezes a billing period's totals; later usage for it becomes adjustments.</summary>
public sealed class PeriodCloseCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["period", "close"];

    public string Summary => "close a billing period: its totals are frozen and every account's final statement is written; late usage is booked as adjustments in the open period";

    public string Usage => "usage: metering period close --period P [--force] [--pricebook FILE] [ledger options]\n\n" +
        "  --period P                 the period: YYYY-MM-DD (its start date) or YYYY-MM (a calendar month)\n" +
        "  --force                    close a period that has not ended yet (the rest of its usage becomes adjustments)\n" +
        "  --pricebook FILE           a list price book to publish into the registry first; the registry's books cut the periods and\n" +
        "                             price the final statements (docs/pricebooks.md, \"The registry\")\n" +
        "  --contracts F1,F2          contract price books (as for serve)\n" +
        LedgerArguments.Usage +
        "\nAccounts with an anchor day or time zone of their own close their own period that starts within P (an account on the 15th\n" +
        "closes [P 15th, next 15th), one in Europe/Berlin its local month); one that has not ended yet is reported and closed\n" +
        "by closing P again after its end.\nClosing is idempotent and waits for flushes in flight. exit codes: 0 closed (or already closed), 1 refused, 2 usage error";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var start = args.RequiredPeriodStart("period");

        var force = args.Has("force");
        var priceFiles = LedgerArguments.PriceFiles(args);
        args.RejectUnknown(LedgerArguments.Options);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        var prices = await LedgerArguments.RegistryPricesAsync(db, priceFiles, Console.Error, cancellationToken).ConfigureAwait(false);
        try
        {
            if (prices is null)
            {
                Console.Error.WriteLine("period close: refused: no price book in the registry (publish one, or give --pricebook FILE): the close writes every account's final statement and needs the prices");
                return 2;
            }

            var result = await PeriodCloser.CloseAsync(db, start, cancellationToken, prices.List?.Periods ?? BillingPeriodRule.CalendarMonth, force: force, prices: prices).ConfigureAwait(false);
            var amounts = result.AmountByCurrency.Count == 0 ? "no usage" : string.Join(", ", result.AmountByCurrency.Select(a => $"{a.Value} {a.Key}"));
            Console.Out.WriteLine($"period {result.Period}: {(result.AlreadyClosed ? "was already closed" : "closed")}; {result.Totals:N0} totals, {amounts}; {result.StatementsWritten:N0} final statements written");
            foreach (var g in result.Groups ?? [])
            {
                // Accounts with a period rule of their own close their own period of this close (docs/statements.md).
                Console.Out.WriteLine(g.Closed
                    ? $"  accounts on {g.Group}: period {g.Period} closed; {g.StatementsWritten:N0} final statements written"
                    : $"  accounts on {g.Group}: period {g.Period} has not ended yet; not closed (close {start:yyyy-MM-dd} again after {g.Period.End:O}, or use --force)");
            }

            return 0;
        }
        catch (PeriodCloseException e)
        {
            Console.Error.WriteLine("period close: refused: " + e.Message);
            return 1;
        }
    }
}
