namespace Metering.Aggregates.Meters;

/// <summary>
/// The first byte of a meter state's serialised form (the ledger's one column per total): which state the bytes hold.
/// The second byte is the format version (<see cref="MeterStateFormat.Version"/>). Values are stored: never renumber.
/// </summary>
public enum MeterStateKind : byte
{
    /// <summary><see cref="ExtremaState"/>: count, min and max (the count, max and min meters).</summary>
    Extrema = 1,

    /// <summary><see cref="LatestState"/>: the latest record (the latest meter).</summary>
    Latest = 2,

    /// <summary><see cref="UniqueCountState"/>: a set of value fingerprints (the unique_count meter).</summary>
    UniqueCount = 3,

    /// <summary><see cref="TimeWeightedState"/>: every reading (the time_weighted meter).</summary>
    TimeWeighted = 4,

    /// <summary><see cref="PercentileState"/>: per-bucket sums (the percentile meter).</summary>
    Percentile = 5,
}
