namespace Metering.Ledger.Totals;

/// <summary>
/// One billing-period total as a flush moved it: cumulative quantity, record count and charged amount before and
/// after. Late usage for a closed period is not a change of its total (it becomes an adjustment) and is not listed.
/// </summary>
public sealed record TotalChange(
    string Account, string Sku, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, string Currency,
    decimal QuantityBefore, decimal QuantityAfter, long CountBefore, long CountAfter, decimal AmountBefore, decimal AmountAfter);
