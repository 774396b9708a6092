namespace Metering.Ledger.Statements;

/// <summary>One <c>billing_period_totals</c> row a statement was built from, as it was when it was read (<paramref name="Group"/>: its dimension group, "" when none).</summary>
public sealed record StatementTotalRow(string Sku, decimal Quantity, long RecordCount, decimal Amount, string Currency, string PriceBookHash, string Group = "");
