namespace Metering.Ledger.Analytics;

/// <summary>The billing totals of one SKU summed over every account and period of the ledger. Exact decimals.</summary>
/// <param name="Sku">The SKU.</param>
/// <param name="RecordCount">Records counted.</param>
/// <param name="Quantity">Raw quantity.</param>
/// <param name="Amount">Money charged, summed as stored (currencies are not told apart: <paramref name="Currency"/> names the lowest).</param>
/// <param name="Currency">The lowest currency code among its totals, as stored (char(3)).</param>
public sealed record SkuTotal(string Sku, long RecordCount, decimal Quantity, decimal Amount, string Currency);
