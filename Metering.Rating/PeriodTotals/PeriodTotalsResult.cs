namespace Metering.Rating.PeriodTotals;

/// <summary>What rating one flush produced; the ledger stores all of it in the flush transaction.</summary>
public sealed class PeriodTotalsResult
{
    internal PeriodTotalsResult(IReadOnlyList<PeriodTotalUpdate> totals, IReadOnlyList<LateAdjustment> adjustments, IReadOnlyList<WindowCharge> windows, IReadOnlyList<(PeriodTotalKey Key, UsageTransaction Transaction)> transactions)
    {
        Transactions = transactions;
        Totals = totals;
        Adjustments = adjustments;
        Windows = windows;
    }

    /// <summary>The open periods' totals, new state and the change from the old, in the order the windows first touched them.</summary>
    public IReadOnlyList<PeriodTotalUpdate> Totals { get; }

    /// <summary>One adjustment line per closed period's total that late usage touched, in the same order.</summary>
    public IReadOnlyList<LateAdjustment> Adjustments { get; }

    /// <summary>The transactions this flush rated per transaction, with the total each belongs to: stored with the totals.</summary>
    public IReadOnlyList<(PeriodTotalKey Key, UsageTransaction Transaction)> Transactions { get; }

    /// <summary>One charge per input window, in rating order (window start, then input order).</summary>
    public IReadOnlyList<WindowCharge> Windows { get; }
}
