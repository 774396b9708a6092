namespace Metering.Aggregates.Aggregation;

/// <summary>Aggregator settings; defaults documented in README.md.</summary>
public sealed record AggregatorOptions
{
    /// <summary>Tumbling window length (default 1 minute).</summary>
    public TimeSpan WindowLength { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Most active keys per generation (default 1,000,000; 64 bytes each plus 25 % headroom).</summary>
    public int KeyLimit { get; init; } = 1_000_000;

    /// <summary>What happens at the key limit.</summary>
    public KeyLimitPolicy OnKeyLimit { get; init; } = KeyLimitPolicy.FlushEarly;
}
