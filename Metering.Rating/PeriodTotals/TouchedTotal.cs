using Metering.Rating.Periods;

namespace Metering.Rating.PeriodTotals;

/// <summary>
/// A billing-period total that a flush's windows touch, with where its usage is booked: into the total itself while
/// its period is open (<see cref="BookedIn"/> null), or, when the period is closed, as an adjustment line into the
/// open period starting at <see cref="BookedIn"/>.
/// </summary>
public sealed record TouchedTotal(PeriodTotalKey Key, BillingPeriod Period, DateTimeOffset? BookedIn)
{
    /// <summary>The price that rates the total: resolved once per total when planned (null: no catalog, everything unpriced).</summary>
    public PriceBooks.PriceResolution? Resolution { get; init; }

    /// <summary>True when the period is closed: the usage is late and becomes an adjustment line.</summary>
    public bool IsLate => BookedIn is not null;
}
