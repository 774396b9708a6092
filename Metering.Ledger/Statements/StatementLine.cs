namespace Metering.Ledger.Statements;

/// <summary>One SKU's rated usage total in a billing period, a row of <c>billing_period_totals</c> (exact decimals).</summary>
/// <param name="Sku">The SKU.</param>
/// <param name="Quantity">Total quantity in the SKU's unit.</param>
/// <param name="RecordCount">Usage records counted into the total.</param>
/// <param name="Amount">Charged amount in <paramref name="Currency"/>, as rated (not rounded again).</param>
/// <param name="Currency">ISO currency code (trimmed).</param>
/// <param name="PriceBook">Id of the price book that rated the total.</param>
/// <param name="PriceBookVersion">Version of that price book.</param>
/// <param name="PriceBookHash">Hash of that version.</param>
/// <param name="Group">The dimension group of the total when the SKU's price groups by dimensions ("" when not).</param>
public sealed record StatementLine(string Sku, decimal Quantity, long RecordCount, decimal Amount, string Currency, string PriceBook, string PriceBookVersion, string PriceBookHash, string Group = "");
