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

    /// <summary>Cumulative quantity, count and charge of the stored total before this flush (what a change moves from).</summary>
    public decimal QuantityBefore;
    public long CountBefore;
    public decimal AmountBefore;

    /// <summary>Late usage only: this flush's quantity, count and charge for the adjustment line, and the windows' span.</summary>
    public decimal LateQuantity;
    public long LateCount;
    public decimal LateAmount;
    public DateTimeOffset FirstWindow = DateTimeOffset.MaxValue;
    public DateTimeOffset LastWindowEnd = DateTimeOffset.MinValue;
}
