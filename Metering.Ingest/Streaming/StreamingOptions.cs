using Metering.Ingest.Pipeline;

namespace Metering.Ingest.Streaming;

/// <summary>Settings of the Kafka -> aggregates -> rating -> PostgreSQL engine.</summary>
public sealed record StreamingOptions
{
    /// <summary>Kafka bootstrap servers.</summary>
    public required string BootstrapServers { get; init; }

    /// <summary>Usage topic (default "usage").</summary>
    public string Topic { get; init; } = "usage";

    /// <summary>Consumer group (default "metering").</summary>
    public string ConsumerGroup { get; init; } = "metering";

    /// <summary>How often aggregates are flushed to PostgreSQL (default 1 s).</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Most records in one flush (default 1,000,000): reaching it starts a flush even before the interval and makes
    /// the consumer wait for the flush in flight. Below it, a due flush waits while the previous one commits.
    /// </summary>
    public int MaxRecordsPerFlush { get; init; } = 1_000_000;

    /// <summary>
    /// Fault injection: stop abruptly (no flush, no clean leave, as a SIGKILL would) once this many records were
    /// read. 0 = never. Used by the crash tests and the chaos runs.
    /// </summary>
    public long CrashAfterRecords { get; init; }

    /// <summary>The dedup horizon shared by all instances (Redis), consulted after the engine's own; null = none.</summary>
    public ISharedDedup? SharedDedup { get; init; }

    /// <summary>Live counters (Redis) the committed totals are published to after each flush; null = none.</summary>
    public ILiveCounters? LiveCounters { get; init; }

    /// <summary>
    /// Topic the dead letters are also produced to after the flush that recorded them committed (the
    /// <c>dead_letters</c> table is the durable record); null = "{Topic}.dead-letters", empty = none.
    /// </summary>
    public string? DeadLetterTopic { get; init; }

    /// <summary>
    /// Accept holes in a partition's offsets (a transactional producer's commit markers take offsets). Off by default:
    /// the engine's producers are not transactional, so a hole means records deleted before they were read, and it is
    /// recorded as data loss (offset_gaps) like an offset-out-of-range.
    /// </summary>
    public bool AllowOffsetHoles { get; init; }

    /// <summary>Kafka authentication (default plaintext).</summary>
    public Kafka.KafkaSecurity KafkaSecurity { get; init; } = Kafka.KafkaSecurity.Plaintext;

    /// <summary>Decoder, aggregator and dedup settings.</summary>
    public AggregationPipelineOptions Pipeline { get; init; } = new();
}
