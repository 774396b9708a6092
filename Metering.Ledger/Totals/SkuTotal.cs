namespace Metering.Ledger.Totals;

/// <summary>One SKU's committed total over the scope its query names (an account's period, or the whole ledger); exact decimals.</summary>
/// <param name="Sku">The SKU.</param>
/// <param name="RecordCount">Usage records counted into the total.</param>
/// <param name="Quantity">Total quantity in the SKU's unit.</param>
/// <param name="Amount">Charged amount in <paramref name="Currency"/>.</param>
/// <param name="Currency">ISO currency code (trimmed); over several totals, the lowest code among them (amounts of different currencies are not told apart there).</param>
public sealed record SkuTotal(string Sku, long RecordCount, decimal Quantity, decimal Amount, string Currency);
