namespace Metering.Rating.Meters;

/// <summary>
/// The quantity a meter gives a billing period, in the SKU's raw metered unit, exact, ready for the price
/// (<see cref="Pricing.SkuPrice.Amount"/>) like a sum total; or why it cannot be priced. An unpriced meter quantity
/// becomes an unpriced statement line (amount 0, <see cref="UnpricedReason"/>), as an unknown SKU does: never a number
/// billed silently.
/// </summary>
/// <param name="Quantity">The period's quantity; 0 when unpriced.</param>
/// <param name="UnpricedReason">Null when priced; else <see cref="OverBoundReason"/> or <see cref="OverflowReason"/>.</param>
/// <param name="Detail">What the reason means for this line and what to change.</param>
public readonly record struct MeterQuantity(decimal Quantity, string? UnpricedReason = null, string? Detail = null)
{
    /// <summary>
    /// The unpriced reason of a meter past its bound (unique_count's <c>max_distinct</c>, time_weighted's
    /// <c>max_readings</c>, percentile's <see cref="MeterDefinition.MaxBuckets"/>): its state is no longer exact.
    /// </summary>
    public const string OverBoundReason = "meter_over_bound";

    /// <summary>The unpriced reason of a quantity beyond <see cref="decimal"/> (about 7.9 x 10^19 units at 9 fractional digits).</summary>
    public const string OverflowReason = "meter_overflow";

    /// <summary>True when the quantity can be priced.</summary>
    public bool IsPriced => UnpricedReason is null;

    internal static MeterQuantity OfNanos(Int128 nanos, string what) =>
        Nanos.TryToDecimal(nanos, out var value)
            ? new MeterQuantity(value)
            : new MeterQuantity(0, OverflowReason, $"the {what} exceeds the decimal range (about 7.9 x 10^19 units with 9 fractional digits): not billable as a number");
}
