using System.Globalization;

namespace Metering.Rating.Meters;

/// <summary>
/// The meter of one SKU in a price book (its price's <c>meter</c> object; docs/meters.md): which aggregation turns the
/// period's records into the quantity the price rates, and that aggregation's parameters. Immutable; equal definitions
/// compare equal (a SKU's meter may not change between the versions of a book, nor between a list book and a contract).
/// An absent <c>meter</c> is <see cref="Sum"/>.
/// </summary>
public sealed record MeterDefinition
{
    /// <summary>The default bound on distinct values per (account, SKU, period) of a unique_count meter.</summary>
    public const int DefaultMaxDistinct = 100_000;

    /// <summary>The largest <see cref="MaxDistinct"/> a book may set: 16 MB of fingerprints per key in the ledger.</summary>
    public const int MaxMaxDistinct = 1_000_000;

    /// <summary>The default bound on distinct reading times per (account, SKU, period) of a time_weighted meter (a reading a minute for 69 days).</summary>
    public const int DefaultMaxReadings = 100_000;

    /// <summary>The largest <see cref="MaxReadings"/> a book may set.</summary>
    public const int MaxMaxReadings = 1_000_000;

    /// <summary>The most buckets a percentile meter's period may hold (a 31-day month of 5-minute buckets holds 8,928).</summary>
    public const int MaxBuckets = 1 << 20;

    /// <summary>The sum meter: what every SKU without a <c>meter</c> has.</summary>
    public static MeterDefinition Sum { get; } = new() { Aggregation = MeterAggregation.Sum };

    /// <summary>The aggregation.</summary>
    public MeterAggregation Aggregation { get; init; }

    /// <summary>unique_count: the field whose distinct values are counted, as written (<c>dimensions.user_id</c>); null otherwise.</summary>
    public string? Field { get; init; }

    /// <summary>unique_count: the dimension key of <see cref="Field"/> (<c>user_id</c>); null otherwise.</summary>
    public string? DimensionKey { get; init; }

    /// <summary>unique_count: distinct values per (account, SKU, period) counted exactly; one more and the meter is over its bound.</summary>
    public int MaxDistinct { get; init; }

    /// <summary>time_weighted: the time unit of the integral (an hour: GB-hours); zero otherwise.</summary>
    public TimeSpan UnitOfTime { get; init; }

    /// <summary>time_weighted: distinct reading times per (account, SKU, period) kept; one more and the meter is over its bound.</summary>
    public int MaxReadings { get; init; }

    /// <summary>percentile: p in (0, 100), e.g. 95; zero otherwise.</summary>
    public decimal Percentile { get; init; }

    /// <summary>percentile: the bucket length (default 5 minutes; whole seconds dividing an hour); zero otherwise.</summary>
    public TimeSpan Bucket { get; init; }

    /// <summary>percentile: the rate's time unit (1 s: bytes per bucket become bytes per second); null bills the bucket sum itself.</summary>
    public TimeSpan? RatePer { get; init; }

    /// <summary>
    /// True when the meter's state is built from each record, not from its window's aggregate: from the record's own
    /// time and quantity (time_weighted readings, percentile buckets), its event id (latest's tie-break) or a dimension
    /// value the aggregate key may drop (unique_count). The engine keeps the SKU's single records for the flush; count,
    /// max and min come from the windows' aggregates.
    /// </summary>
    public bool NeedsRecords => Aggregation is MeterAggregation.TimeWeighted or MeterAggregation.Percentile or MeterAggregation.Latest or MeterAggregation.UniqueCount;

    /// <summary>True for the sum meter (the engine's behaviour before meters).</summary>
    public bool IsSum => Aggregation == MeterAggregation.Sum;

    /// <summary>
    /// Whether a void or amend of one event can be applied to the meter's state exactly: sum and count (a delta) and
    /// percentile (its bucket's sum moves). max, min, latest, unique_count and time_weighted cannot be undone from their
    /// state (the next-largest value, the previous latest record, whether another record had the same value, the other
    /// level of a same-instant reading are not kept): correct them with a credit or debit (docs/meters.md).
    /// </summary>
    public bool SupportsEventCorrections => Aggregation is MeterAggregation.Sum or MeterAggregation.Count or MeterAggregation.Percentile;

    /// <summary>The book's name of <see cref="Aggregation"/> (<c>unique_count</c>).</summary>
    public string AggregationName => NameOf(Aggregation);

    /// <summary>The book's name of an aggregation.</summary>
    public static string NameOf(MeterAggregation aggregation) => aggregation switch
    {
        MeterAggregation.Sum => "sum",
        MeterAggregation.Count => "count",
        MeterAggregation.Max => "max",
        MeterAggregation.Min => "min",
        MeterAggregation.Latest => "latest",
        MeterAggregation.UniqueCount => "unique_count",
        MeterAggregation.TimeWeighted => "time_weighted",
        _ => "percentile",
    };

    /// <summary>The definition as one line of the book's JSON fields, for messages (<c>{"aggregation":"percentile","percentile":95,"bucket":"5m","rate_per":"1s"}</c>).</summary>
    public override string ToString()
    {
        var text = $"{{\"aggregation\":\"{AggregationName}\"";
        switch (Aggregation)
        {
            case MeterAggregation.UniqueCount:
                text += $",\"field\":\"{Field}\",\"max_distinct\":{MaxDistinct.ToString(CultureInfo.InvariantCulture)}";
                break;
            case MeterAggregation.TimeWeighted:
                text += $",\"unit_of_time\":\"{MeterDurations.UnitName(UnitOfTime)}\",\"max_readings\":{MaxReadings.ToString(CultureInfo.InvariantCulture)}";
                break;
            case MeterAggregation.Percentile:
                text += $",\"percentile\":{Percentile.ToString(CultureInfo.InvariantCulture)},\"bucket\":\"{MeterDurations.Format(Bucket)}\"";
                if (RatePer is { } per)
                {
                    text += $",\"rate_per\":\"{MeterDurations.Format(per)}\"";
                }

                break;
        }

        return text + "}";
    }
}
