namespace Metering.Rating.PeriodTotals;

/// <summary>
/// The usage of one (account, SKU) in one aggregation window [<paramref name="Start"/>, <paramref name="End"/>):
/// its exact quantity and the number of records it sums, and the dimensions the engine kept in its key (null: none).
/// Dimensions take part in rating only where the SKU's price groups by them (<see cref="DimensionGroup"/>).
/// <paramref name="Transactions"/> are the window's single records, for a SKU whose price is rated per transaction
/// (<see cref="Pricing.SkuPrice.NeedsTransactions"/>): they number <paramref name="Count"/> and sum to
/// <paramref name="Quantity"/>; null when the engine did not keep them (every other price).
/// </summary>
public readonly record struct UsageWindow(string Account, string Sku, DateTimeOffset Start, DateTimeOffset End, decimal Quantity, long Count,
    IReadOnlyList<KeyValuePair<string, string>>? Dimensions = null, IReadOnlyList<UsageTransaction>? Transactions = null);
