using Metering.Ingest.Pipeline;
using Metering.Ledger.SeenIds;
using Metering.Ledger.Totals;

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

    /// <summary>
    /// Fault injection: stop abruptly right after this many flushes committed, before anything that follows a commit
    /// (dead-letter topic, Redis marks, Kafka offsets), as a SIGKILL at that instant would. 0 = never.
    /// </summary>
    public long CrashAfterFlushes { get; init; }

    /// <summary>The dedup horizon shared by all instances (Redis), consulted after the engine's own; null = none.</summary>
    public ISharedDedup? SharedDedup { get; init; }

    /// <summary>
    /// The accounts that exist (the ledger's <c>AccountDirectory</c>): needed by <see cref="AggregationPipelineOptions.UnknownAccounts"/>
    /// = reject; with auto it spares the flush an insert attempt for accounts known to exist. Null = none.
    /// </summary>
    public Metering.Aggregates.Admission.IAccountDirectory? Accounts { get; init; }

    /// <summary>Live counters (Redis) the committed totals are published to after each flush; null = none.</summary>
    public ILiveCounters? LiveCounters { get; init; }

    /// <summary>
    /// Topic the dead letters are also produced to from their outbox, the <c>dead_letters</c> table written in the
    /// flush transaction (<see cref="DeadLetterOutbox"/>, at least once); null = "{Topic}.dead-letters", empty = none.
    /// </summary>
    public string? DeadLetterTopic { get; init; }

    /// <summary>
    /// Accept holes in a partition's offsets (a transactional producer's commit markers take offsets). Off by default:
    /// the engine's producers are not transactional, so a hole means records deleted before they were read, and it is
    /// recorded as data loss (offset_gaps) like an offset-out-of-range.
    /// </summary>
    public bool AllowOffsetHoles { get; init; }

    /// <summary>
    /// Watchdog: a member that holds partitions with lag and has consumed nothing for this long is reported unhealthy
    /// (<see cref="StreamingEngine.Healthy"/>, <c>/healthz</c> answers 503) with a log line and the
    /// <c>metering.consumer.stalls</c> metric, so an orchestrator restarts it (default 30 s; <see cref="TimeSpan.Zero"/> = off).
    /// </summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Static group membership (<c>group.instance.id</c>): a restarted member with the same id takes its partitions back
    /// without a rebalance and without waiting for the old session to time out. Must be unique per running member
    /// (the pod name; the CLI defaults to the host name). Null = dynamic membership.
    /// </summary>
    public string? InstanceId { get; init; }

    /// <summary>
    /// Kafka session timeout (default 6 s): how long a member may go without a heartbeat before the coordinator
    /// gives its partitions away. Shorter turns a loaded machine's hiccup into a rejoin (seconds, nothing lost);
    /// longer makes a crashed member's partitions wait longer, unless the broker honours <see cref="InstanceId"/>
    /// (Kafka does, so with a real cluster use 30 s; the embedded mock broker does not, docs/operations.md).
    /// </summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>
    /// What a partition with no offset in PostgreSQL (its first assignment) may start from. Default
    /// <see cref="StartOffsetPolicy.FromZero"/>: the partition's history must begin at offset 0, so records retention
    /// already deleted ([0, low watermark)) are recorded as data loss. <see cref="StartOffsetPolicy.EarliestIsComplete"/>:
    /// the operator states that whatever the broker still holds is the whole history (a new group on an old topic).
    /// </summary>
    public StartOffsetPolicy StartOffset { get; init; } = StartOffsetPolicy.FromZero;

    /// <summary>
    /// How long start-up retries PostgreSQL and Kafka when they are unreachable (default 60 s), with a line per
    /// attempt; then <see cref="StartupFailedException"/>.
    /// </summary>
    public TimeSpan StartupTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Where the engine's log lines go (data loss, fences, watchdog; default standard error).</summary>
    public TextWriter Log { get; init; } = Console.Error;

    /// <summary>Kafka authentication (default plaintext).</summary>
    public Kafka.KafkaSecurity KafkaSecurity { get; init; } = Kafka.KafkaSecurity.Plaintext;

    /// <summary>Decoder, aggregator and dedup settings.</summary>
    public AggregationPipelineOptions Pipeline { get; init; } = new();
}
