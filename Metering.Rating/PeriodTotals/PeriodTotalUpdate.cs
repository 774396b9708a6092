namespace Metering.Rating.PeriodTotals;

/// <summary>
/// One open period's total as a flush moves it: cumulative quantity, record count and charged amount before and after,
/// with the currency and price-book lineage to store. Totals of closed periods never change (see <see cref="LateAdjustment"/>).
/// </summary>
public sealed record PeriodTotalUpdate(
    PeriodTotalKey Key, DateTimeOffset PeriodEnd,
    decimal QuantityBefore, decimal QuantityAfter, long CountBefore, long CountAfter, decimal AmountBefore, decimal AmountAfter,
    string Currency, string PriceBook, string PriceBookVersion, string PriceBookHash)
{
    /// <summary>True when the total is one part of its SKU's (a dimension group or a price segment): quotas and live counters sum the parts.</summary>
    public bool IsPart { get; init; }

    /// <summary>The start of the latest window this flush put into the total; null when it only re-priced it.</summary>
    public DateTimeOffset? LastWindowStart { get; init; }
}
