namespace Metering.Rating.PeriodTotals;

/// <summary>Identifies one billing-period total: (account, SKU, start of the period the usage belongs to).</summary>
public readonly record struct PeriodTotalKey(string Account, string Sku, DateTimeOffset PeriodStart);
