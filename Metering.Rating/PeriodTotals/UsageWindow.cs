namespace Metering.Rating.PeriodTotals;

/// <summary>
/// The usage of one (account, SKU) in one aggregation window [<paramref name="Start"/>, <paramref name="End"/>):
/// its exact quantity and the number of records it sums. Dimensions do not take part in rating.
/// </summary>
public readonly record struct UsageWindow(string Account, string Sku, DateTimeOffset Start, DateTimeOffset End, decimal Quantity, long Count);
