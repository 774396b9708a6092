namespace Metering.Ledger.Statements;

/// <summary>Late usage of a closed period booked into this one, a row of <c>adjustments</c> (exact decimals).</summary>
/// <param name="Id">The adjustment's id (ascending in booking order).</param>
/// <param name="Sku">The SKU.</param>
/// <param name="OriginalPeriodStart">Start of the closed period the usage belongs to.</param>
/// <param name="Quantity">Late quantity in the SKU's unit.</param>
/// <param name="RecordCount">Late usage records.</param>
/// <param name="Amount">Charged amount in <paramref name="Currency"/>.</param>
/// <param name="Currency">ISO currency code (trimmed).</param>
/// <param name="PriceBookHash">Hash of the price-book version that rated it.</param>
/// <param name="Reference">What the line refers to (the closed period's statement).</param>
public sealed record StatementAdjustment(long Id, string Sku, DateTimeOffset OriginalPeriodStart, decimal Quantity, long RecordCount, decimal Amount, string Currency, string PriceBookHash, string Reference);
