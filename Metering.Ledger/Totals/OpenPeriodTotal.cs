namespace Metering.Ledger.Totals;

/// <summary>A committed total of a billing period that is not closed yet (exact decimals; times in UTC).</summary>
/// <param name="Account">The account.</param>
/// <param name="Sku">The SKU.</param>
/// <param name="PeriodStart">Start of the billing period.</param>
/// <param name="PeriodEnd">End of the billing period (exclusive).</param>
/// <param name="RecordCount">Usage records counted into the total.</param>
/// <param name="Quantity">Total quantity in the SKU's unit.</param>
/// <param name="Amount">Charged amount in <paramref name="Currency"/>.</param>
/// <param name="Currency">ISO currency code as stored (not trimmed).</param>
public sealed record OpenPeriodTotal(string Account, string Sku, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, long RecordCount, decimal Quantity, decimal Amount, string Currency);
