namespace Metering.Rating.PeriodTotals;

/// <summary>
/// A billing-period total as the ledger holds it before a flush: cumulative quantity, record count and charged
/// amount, and the currency and price-book lineage it was last rated with (<c>XXX</c> / <c>unpriced</c> when never priced).
/// </summary>
public sealed record StoredPeriodTotal(decimal Quantity, long Count, decimal Amount, string Currency, string PriceBook, string PriceBookVersion, string PriceBookHash);
