using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Decoding;

namespace Metering.Ingest.Pipeline;

/// <summary>Settings of the decode -> dedup -> aggregate pipeline.</summary>
public sealed record AggregationPipelineOptions
{
    /// <summary>Decoder limits.</summary>
    public DecoderOptions Decoder { get; init; } = new();

    /// <summary>Aggregate windows and key limit.</summary>
    public AggregatorOptions Aggregator { get; init; } = new();

    /// <summary>How long an id is remembered, in event time (default 24 h).</summary>
    public TimeSpan DedupHorizon { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Most ids remembered (default 16 M, about 320 MiB at most).</summary>
    public int DedupMaxEntries { get; init; } = 16_000_000;

    /// <summary>Batches buffered between the decoding and the aggregating thread.</summary>
    public int QueueDepth { get; init; } = 16;
}
