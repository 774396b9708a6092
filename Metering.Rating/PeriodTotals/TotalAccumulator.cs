using Metering.Rating.Incremental;

namespace Metering.Rating.PeriodTotals;

/// <summary>One touched total while a flush is rated: its running state, and for late usage this flush's share.</summary>
internal sealed class TotalAccumulator(TouchedTotal touched)
{
    public TouchedTotal Touched { get; } = touched;

    public PeriodRatingState State;
    public long Count;
    public string Currency = "XXX";
    public string Book = "unpriced";
    public string Version = "";
    public string Hash = "";

    /// <summary>True when the total has a line: a stored row, booked late usage, or a window of this flush.</summary>
    public bool Exists;

    /// <summary>True when a window of this flush went into the total.</summary>
    public bool HadWindows;

    /// <summary>The start of the latest window of this flush in the total.</summary>
    public DateTimeOffset LastWindowStart = DateTimeOffset.MinValue;

    /// <summary>Cumulative quantity, count and charge of the stored total before this flush (what a change moves from).</summary>
    public decimal QuantityBefore;
    public long CountBefore;
    public decimal AmountBefore;

    /// <summary>
    /// A total rated per transaction: every transaction of the total (stored and this flush's), in rating order; the
    /// ones this flush added; and what the stored total holds beyond its stored transactions (usage metered before
    /// transactions were kept, which takes its place before them, unpriced).
    /// </summary>
    public List<UsageTransaction>? Transactions;
    public List<UsageTransaction>? AddedTransactions;
    public decimal UntrackedQuantity;
    public long UntrackedCount;

    /// <summary>Late usage only: this flush's quantity, count and charge for the adjustment line, and the windows' span.</summary>
    public decimal LateQuantity;
    public long LateCount;
    public decimal LateAmount;
    public DateTimeOffset FirstWindow = DateTimeOffset.MaxValue;
    public DateTimeOffset LastWindowEnd = DateTimeOffset.MinValue;
}
