namespace Metering.Rating.PeriodTotals;

/// <summary>
/// A flush's windows put in rating order, and the billing-period totals they touch with where each books its usage
/// (<see cref="PeriodTotalsRater.Plan(IReadOnlyList{UsageWindow}, Metering.Rating.Periods.AccountPeriods)"/>). The ledger loads the state of <see cref="Totals"/> (and, for the late
/// ones, the adjustments already booked) and hands it to <see cref="PeriodTotalsRater.Rate"/>.
/// </summary>
public sealed class PeriodTotalsPlan
{
    internal PeriodTotalsPlan(IReadOnlyList<UsageWindow> windows, int[] order, int[] totalOf, IReadOnlyList<TouchedTotal> totals)
    {
        Windows = windows;
        Order = order;
        TotalOf = totalOf;
        Totals = totals;
    }

    /// <summary>The windows as given.</summary>
    public IReadOnlyList<UsageWindow> Windows { get; }

    /// <summary>Every total the windows touch, in the order the windows (in time order) first touch them.</summary>
    public IReadOnlyList<TouchedTotal> Totals { get; }

    /// <summary>
    /// The totals whose price is rated per transaction (<see cref="Pricing.SkuPrice.NeedsTransactions"/>): the ledger
    /// loads their stored transactions, which <see cref="PeriodTotalsRater.Rate"/> rates again with the new ones in order.
    /// </summary>
    public IReadOnlyList<PeriodTotalKey> TransactionKeys => [.. Totals.Where(t => t.RatedPerTransaction).Select(t => t.Key)];

    /// <summary>The total window <paramref name="window"/> (an index into <see cref="Windows"/>) books into.</summary>
    public TouchedTotal TotalOfWindow(int window)
    {
        if (_totalOfWindow is null)
        {
            var map = new int[Order.Length];
            for (var j = 0; j < Order.Length; j++)
            {
                map[Order[j]] = TotalOf[j];
            }

            _totalOfWindow = map;
        }

        return Totals[_totalOfWindow[window]];
    }

    private int[]? _totalOfWindow;

    /// <summary>Positions in <see cref="Windows"/> in rating order: by window start, ties in input order.</summary>
    internal int[] Order { get; }

    /// <summary>For each position of <see cref="Order"/>, the index of its total in <see cref="Totals"/>.</summary>
    internal int[] TotalOf { get; }
}
