namespace Metering.Ledger.Totals;

/// <summary>One SKU's cumulative total of an account's billing period as committed (exact decimals).</summary>
/// <param name="Sku">The SKU.</param>
/// <param name="RecordCount">Usage records counted into the total.</param>
/// <param name="Quantity">Total quantity in the SKU's unit.</param>
/// <param name="Amount">Charged amount in <paramref name="Currency"/>.</param>
/// <param name="Currency">ISO currency code (trimmed).</param>
public sealed record SkuTotal(string Sku, long RecordCount, decimal Quantity, decimal Amount, string Currency);
