namespace Metering.Rating.Meters;

/// <summary>
/// How a SKU's records become the quantity of a billing period (docs/meters.md). The names are OpenMeter's where it has
/// one (<c>SUM</c>, <c>COUNT</c>, <c>MAX</c>, <c>MIN</c>, <c>LATEST</c>, <c>UNIQUE_COUNT</c>), in the book's snake case.
/// </summary>
public enum MeterAggregation
{
    /// <summary>The sum of the records' quantities (the default, and every book before meters).</summary>
    Sum,

    /// <summary>The number of records.</summary>
    Count,

    /// <summary>The greatest record quantity of the period (its peak).</summary>
    Max,

    /// <summary>The smallest record quantity of the period.</summary>
    Min,

    /// <summary>The quantity of the record with the greatest event time, ties broken by the greater event id (ordinal over its UTF-8 bytes).</summary>
    Latest,

    /// <summary>The number of distinct values of one dimension, exact up to a bound per key.</summary>
    UniqueCount,

    /// <summary>The integral over event time of a level the records report (GB-hours, seat-hours).</summary>
    TimeWeighted,

    /// <summary>The burstable percentile (p95) of per-bucket sums, optionally as a rate.</summary>
    Percentile,
}
