namespace Metering.Rating.PeriodTotals;

/// <summary>
/// Identifies one billing-period total: (account, SKU, start of the period the usage belongs to, dimension group).
/// <see cref="Group"/> is <see cref="DimensionGroup.None"/> unless the SKU's price groups by dimensions (<see cref="DimensionGroup"/>).
/// </summary>
public readonly record struct PeriodTotalKey(string Account, string Sku, DateTimeOffset PeriodStart, string Group = DimensionGroup.None);
