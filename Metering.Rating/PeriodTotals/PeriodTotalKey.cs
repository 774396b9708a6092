namespace Metering.Rating.PeriodTotals;

/// <summary>
/// Identifies one billing-period total: (account, SKU, start of the period the usage belongs to, dimension group,
/// price segment). <see cref="Group"/> is <see cref="DimensionGroup.None"/> unless the SKU's price groups by dimensions
/// (<see cref="DimensionGroup"/>). <see cref="PriceFrom"/> is null for the usage priced from the period's start, and
/// the instant a version took effect inside the period for the usage of windows starting at or after it
/// (<see cref="PriceBooks.PriceCatalog.Segments"/>): each such segment is a total, and a statement line, of its own.
/// </summary>
public readonly record struct PeriodTotalKey(string Account, string Sku, DateTimeOffset PeriodStart, string Group = DimensionGroup.None, DateTimeOffset? PriceFrom = null)
{
    /// <summary>The instant the segment's price applies from: <see cref="PriceFrom"/>, or the period's start.</summary>
    public DateTimeOffset PricedFrom => PriceFrom ?? PeriodStart;
}
