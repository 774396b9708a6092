using System.Diagnostics;
using Confluent.Kafka;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Dedup;
using Metering.Ledger.Flush;
using Metering.Ledger.PriceBooks;
using Metering.Rating.PriceBooks;
using Npgsql;

namespace Metering.Ingest.Streaming;

/// <summary>
/// The streaming engine: a Kafka consumer-group member that decodes usage records, drops duplicates, aggregates
/// them, and periodically makes the rated aggregates, the partitions' next offsets, the conservation counters, the
/// dead letters and the newly seen ids durable in ONE PostgreSQL transaction (<see cref="LedgerWriter"/>).
/// On assignment it seeks to the offsets stored in PostgreSQL, never Kafka's, so a crash at any instant replays
/// exactly what was not committed. Revoked partitions are flushed first; lost partitions (and a fenced flush)
/// discard the unflushed batch and rebuild state from PostgreSQL. Runs on the caller's thread.
/// </summary>
public sealed partial class StreamingEngine
{
    private readonly StreamingOptions _options;
    private readonly NpgsqlDataSource _db;
    private AdmissionOptions _admissionOptions;
    private RecordAdmission _admission;
    private readonly Aggregator _aggregator;
    private readonly AggregateWriter _writer;
    private readonly LedgerWriter _ledger;
    private readonly Dictionary<int, PartitionProgress> _partitions = [];
    private readonly List<KafkaDeadLetter> _deadLetters = [];
    private readonly List<SeenId> _seenIds = [];
    private readonly TransactionKeeper _transactions;
    private readonly FlushIsolation _isolation;
    private DedupHorizon _dedup;
    private readonly LateDedup _late;
    private Task<double>? _inFlight;
    private FlushBatch? _inFlightBatch;
    private long _pending;
    private IConsumer<Ignore, byte[]>? _consumer;

    /// <summary>Creates an engine over <paramref name="db"/> (migrated) rating with the fixed <paramref name="prices"/> (null: unpriced).</summary>
    public StreamingEngine(StreamingOptions options, NpgsqlDataSource db, PriceCatalog? prices)
        : this(options, db, PriceCatalogSource.Fixed(prices))
    {
    }

    /// <summary>
    /// Creates an engine over <paramref name="db"/> (migrated) rating with <paramref name="prices"/>: each flush takes
    /// its catalog from it (the registry's follows publishes without a restart, docs/pricebooks.md). The unknown-SKU
    /// policy checks the SKUs the catalog knew at start.
    /// </summary>
    public static StreamingEngine Rating(StreamingOptions options, NpgsqlDataSource db, PriceCatalogSource prices) => new(options, db, prices);

    private StreamingEngine(StreamingOptions options, NpgsqlDataSource db, PriceCatalogSource prices)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(prices);
        _options = options;
        _db = db;
        _prices = prices;
        _groupingRevision = prices.Revision;
        _knownSkusRevision = prices.Revision;
        _admissionOptions = options.Pipeline.Admission(prices.Current?.KnownSkus(), options.Accounts);
        _admission = new RecordAdmission(NewCatalog(), _admissionOptions);
        _cloudEvents = options.Pipeline.EventMapping is { } mapping ? new CloudEvents.CloudEventDecoder(mapping) : null;
        _aggregator = new Aggregator(options.Pipeline.Aggregator);
        _writer = _aggregator.CreateWriter();
        _ledger = new LedgerWriter(db, options.ConsumerGroup, options.Topic, _admission.Catalog, _aggregator.Windows, prices)
        {
            NewAccounts = options.Pipeline.UnknownAccounts == UnknownAccountPolicy.Auto ? new Ledger.Accounts.FirstUsageAccounts(prices.Current, options.Accounts) : null,
        };
        _dedup = new DedupHorizon(options.Pipeline.DedupHorizon, options.Pipeline.DedupMaxEntries);
        // A horizon longer than the lateness (set before lateness existed) keeps its meaning: the window is the longer.
        _late = new LateDedup(_ledger.Archive, options.Pipeline.MaxLateness > options.Pipeline.DedupHorizon ? options.Pipeline.MaxLateness : options.Pipeline.DedupHorizon, _seenIds);
        _isolation = new FlushIsolation(options.Topic);
        _transactions = new TransactionKeeper(prices, ChunkSize);
    }

    // The price books whose group_by keys the interning catalog keeps (NewCatalog), and the revision they were read at.
    private readonly PriceCatalogSource _prices;
    private long _groupingRevision;
    private long _knownSkusRevision;

    /// <summary>Records read since start (progress output).</summary>
    public long Read { get; private set; }

    /// <summary>Informational Kafka offset commits refused (e.g. during a rebalance); harmless, PostgreSQL is the truth.</summary>
    public long KafkaCommitFailures { get; private set; }

    /// <summary>Partitions currently assigned to this engine.</summary>
    public int AssignedPartitions => Volatile.Read(ref _assignedCount);

    private int _assignedCount;

    private ConsumptionWatchdog? _watchdog;
    private volatile bool _rejoining;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, long> _resumeOffsets = new();

    /// <summary>
    /// False while the watchdog finds this member stalled: partitions assigned, lag, nothing consumed for
    /// <see cref="StreamingOptions.StallTimeout"/> (served as 503 on <c>/healthz</c>). True when not running.
    /// </summary>
    public bool Healthy => _watchdog?.Healthy ?? true;

    /// <summary>"ok" or why <see cref="Healthy"/> is false.</summary>
    public string HealthDetail => _watchdog?.Detail ?? "ok";

    /// <summary><see cref="Healthy"/> and <see cref="HealthDetail"/> from one snapshot, as <c>/healthz</c> answers them.</summary>
    public (bool Healthy, string Detail) Health => _watchdog?.Health ?? (true, "ok");

    /// <summary>Stalls the watchdog detected since start.</summary>
    public long Stalls => _watchdog?.Stalls ?? 0;

    /// <summary>Records the broker deleted before they were consumed (offset gaps; data loss, reported).</summary>
    public long LostRecords { get; private set; }

    /// <summary>Flush attempts retried after a database error.</summary>
    public long FlushRetries { get; private set; }

    /// <summary>Flushes that failed on a data fault (never retried as is; their records were isolated, see <see cref="FlushIsolation"/>).</summary>
    public long FlushDataFaults => _isolation.DataFaults;

    /// <summary>Records the ledger refused, dead-lettered as <c>ledger_rejected</c> by isolation.</summary>
    public long RecordsIsolated => _isolation.Isolated;

    /// <summary>Flushes committed since start.</summary>
    public long Flushes { get; private set; }

    /// <summary>Where the time of the current (or last) run went, per stage, and its first consume and commit.</summary>
    public StageTimes Stages { get; private set; } = new();

    /// <summary>Flush transaction durations in milliseconds (for the p99 the benchmark reports).</summary>
    public List<double> FlushMilliseconds { get; } = [];

    /// <summary>
    /// Consumes until <paramref name="cancellationToken"/> fires, then flushes and leaves the group cleanly.
    /// With <paramref name="abandonOnCancel"/> it stops WITHOUT flushing or closing, as a crash would (tests).
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken, bool abandonOnCancel = false)
    {
        var stages = Stages = new StageTimes();
        _flushedSinceStart = false;
        await StartupRetry.RunAsync("PostgreSQL", ReloadDedupAsync, _options.StartupTimeout, _options.Log, cancellationToken).ConfigureAwait(false);
        var config = _options.KafkaSecurity.Apply(ConsumerConfig(_options.BootstrapServers, _options.ConsumerGroup));
        if (_cloudEvents is not null)
        {
            config.ConsumeResultFields = "headers"; // CloudEvents binary mode lives in the headers; only with a mapping
        }

        config.SessionTimeoutMs = (int)_options.SessionTimeout.TotalMilliseconds;
        config.HeartbeatIntervalMs = Math.Max(100, config.SessionTimeoutMs.Value / 10);
        if (!string.IsNullOrEmpty(_options.InstanceId))
        {
            config.GroupInstanceId = _options.InstanceId; // static membership: a restart takes its partitions back, no rebalance
        }

        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config)
            .SetPartitionsAssignedHandler((c, assigned) => OnAssigned(assigned))
            .SetPartitionsRevokedHandler((c, revoked) => OnRevoked(revoked))
            .SetPartitionsLostHandler((c, lost) => OnLost(lost))
            .Build();
        _consumer = consumer;
        using var lag = Observability.MeteringMetrics.RegisterConsumerLag(() => Lag(consumer));
        using var watchdog = _options.StallTimeout > TimeSpan.Zero
            ? new ConsumptionWatchdog(_options.StallTimeout, () => new ConsumptionSample(AssignedPartitions, Read, _rejoining), () => BrokerLag(consumer), _options.Log)
            : null;
        _watchdog = watchdog;
        _outbox = StartOutbox();
        var cpuAtStart = ThreadCpuClock.Now(); // after the awaits: from here on this is the poll thread
        consumer.Subscribe(_options.Topic);
        stages.MarkSubscribed();
        var lastFlush = Stopwatch.StartNew();
        var crashed = false;
        _writer.BeginBatch();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                // A chunk: one waiting consume, then whatever is already fetched, up to ChunkSize messages. The shared
                // dedup store (if any) is asked once per chunk instead of once per record.
                var waitStart = Stopwatch.GetTimestamp();
                try
                {
                    if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { Message: not null } first)
                    {
                        stages.AddConsumeWait(waitStart, empty: false);
                        var dequeueStart = Stopwatch.GetTimestamp();
                        _chunk.Add(first);
                        while (_chunk.Count < ChunkSize && consumer.Consume(TimeSpan.Zero) is { Message: not null } next)
                        {
                            _chunk.Add(next);
                        }

                        stages.AddDequeue(dequeueStart);
                    }
                    else
                    {
                        stages.AddConsumeWait(waitStart, empty: true);
                    }
                }
                catch (ConsumeException e) when (e.Error.Code is ErrorCode.Local_AutoOffsetReset or ErrorCode.OffsetOutOfRange)
                {
                    ProcessChunk();
                    SkipLostOffsets(e.Error);
                    continue;
                }

                var buildStart = Stopwatch.GetTimestamp();
                if (!ProcessChunk())
                {
                    crashed = true;
                    return; // injected crash: nothing flushed, no clean leave
                }

                stages.AddBuild(buildStart);

                // Adaptive batching: a due flush waits while the previous one is still committing (consumption goes
                // on into the aggregator), so under load batches grow and the per-key cost of a flush is paid for
                // more records; only the hard cap makes the consumer wait for the database.
                // The first flush after start goes at once, with the first chunk: the start-up cost of a commit (new
                // accounts' rows, cold caches and plans) is paid on a few hundred records, and the first records are
                // durable within a round trip of arriving instead of a flush interval plus a large first batch later.
                var idle = _inFlight is null || _inFlight.IsCompleted;
                var due = lastFlush.Elapsed >= _options.FlushInterval || !_flushedSinceStart;
                if (_pending >= _options.MaxRecordsPerFlush || (idle && _pending > 0 && due))
                {
                    StartFlush();
                    lastFlush.Restart();
                }
                else if (_inFlight is { IsCompleted: true })
                {
                    WaitForInFlight(); // harvest a finished flush promptly (metrics, Kafka commit, fence)
                }
            }

            if (abandonOnCancel)
            {
                return; // as if killed: nothing flushed, no clean leave
            }

            Flush();
            consumer.Close();
        }
        catch (InjectedCrashException)
        {
            crashed = true; // as if killed right after a commit: nothing after it happens
        }
        finally
        {
            stages.PollThreadCpu = ThreadCpuClock.Now() - cpuAtStart;
            _writer.EndBatch();
            _consumer = null;
            if (_outbox is { } outbox)
            {
                if (!abandonOnCancel && !crashed)
                {
                    await outbox.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false); // what this run committed
                }

                await outbox.DisposeAsync().ConfigureAwait(false);
                _deadLettersPublishedBefore = outbox.Published;
                _outbox = null;
            }
        }
    }

    /// <summary>
    /// The consumer settings of the engine (and of the benchmark's consume-only baseline): PostgreSQL holds the
    /// offsets that count; Kafka's committed offsets are informational (lag tools), stored after each durable flush
    /// and committed by librdkafka's background auto-commit, so the poll thread never waits for the coordinator (a
    /// synchronous commit did, for up to a socket timeout per flush, also inside rebalance callbacks, while the group
    /// rejoined). Cooperative-sticky assignment, large fetches so a 2-core machine is not busy with requests.
    /// </summary>
    internal static ConsumerConfig ConsumerConfig(string bootstrapServers, string groupId) => new()
    {
        BootstrapServers = bootstrapServers,
        GroupId = groupId,
        EnableAutoCommit = true,
        AutoCommitIntervalMs = 1_000,
        EnableAutoOffsetStore = false,
        // Never reset silently: the engine seeks to PostgreSQL's offsets itself, so a reset only happens when the
        // broker no longer has them (retention overtook us). That is data loss; it is reported, not papered over.
        AutoOffsetReset = AutoOffsetReset.Error,
        ConsumeResultFields = "none", // no topic/timestamp/headers marshalling per message: the hot path needs offset and value
        QueuedMinMessages = 200_000,
        PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
        SessionTimeoutMs = 6_000,
        HeartbeatIntervalMs = 600,
        FetchWaitMaxMs = 50,
    };

    /// <summary>
    /// Per-partition lag for the metrics scrape, from librdkafka's cached high watermarks and positions (no broker
    /// call; both are safe to read from the scrape thread).
    /// </summary>
    private static List<Observability.PartitionLag> Lag(IConsumer<Ignore, byte[]> consumer)
    {
        var lags = new List<Observability.PartitionLag>();
        try
        {
            foreach (var tp in consumer.Assignment)
            {
                var high = consumer.GetWatermarkOffsets(tp).High;
                var position = consumer.Position(tp);
                if (high.Value >= 0 && position.Value >= 0)
                {
                    lags.Add(new(tp.Topic, tp.Partition.Value, Math.Max(0, high.Value - position.Value)));
                }
            }
        }
        catch (Exception e) when (e is KafkaException or ObjectDisposedException or InvalidOperationException)
        {
            // the consumer is closing: no lag to report
        }

        return lags;
    }

    /// <summary>
    /// The watchdog's lag: the broker's high watermarks (asked, not cached: cached marks freeze when fetching stops)
    /// minus the position, or minus where the partition was told to resume if nothing was fetched since.
    /// </summary>
    private long BrokerLag(IConsumer<Ignore, byte[]> consumer)
    {
        long lag = 0;
        foreach (var (partition, resume) in _resumeOffsets)
        {
            var tp = new TopicPartition(_options.Topic, partition);
            var marks = consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(5));
            var position = consumer.Position(tp).Value;
            var from = position >= 0 ? position : resume >= 0 ? resume : marks.Low.Value;
            lag += Math.Max(0, marks.High.Value - from);
        }

        return lag;
    }

    private bool _flushedSinceStart;
    private long _acceptedTotal;
    private long _duplicatesTotal;
    private long _rewinds;
}
