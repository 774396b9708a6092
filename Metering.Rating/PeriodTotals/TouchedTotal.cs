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

    /// <summary>
    /// The family (an (account, SKU, period, group) priced by more than one version inside its period) this total is
    /// a segment of, numbered within the plan, or -1 when the total is the family's only one.
    /// </summary>
    public int Family { get; init; } = -1;

    /// <summary>The total's segment within its family (0: priced from the period's start).</summary>
    public int Segment { get; init; }

    /// <summary>True when the total is one part of its SKU's (dimension group or price segment): quotas and live counters sum the parts.</summary>
    public bool IsPart { get; init; }

    /// <summary>True when the total's price is rated per transaction (<see cref="Pricing.SkuPrice.NeedsTransactions"/>).</summary>
    public bool RatedPerTransaction => Resolution is { IsPriced: true } r && r.Price!.NeedsTransactions;

    /// <summary>
    /// The meter of the total's price when it is not a sum (docs/meters.md): the total is then rated on the quantity the
    /// meter makes of its state (the ledger's <c>meter_states</c>), not on the sum of its windows; null for a sum.
    /// </summary>
    public Meters.MeterDefinition? Meter => Resolution is { IsPriced: true } r && !r.Price!.Meter.IsSum ? r.Price.Meter : null;

    /// <summary>
    /// The end of the time range whose records go into this total: the period's end, or for a metered SKU with a
    /// version taking effect inside the period, the start of the next version's range (each range metered on its own).
    /// The range starts at <see cref="PeriodTotalKey.PricedFrom"/>.
    /// </summary>
    public DateTimeOffset RangeEnd { get; init; } = Period.End;

    /// <summary>True when the period is closed: the usage is late and becomes an adjustment line.</summary>
    public bool IsLate => BookedIn is not null;
}
