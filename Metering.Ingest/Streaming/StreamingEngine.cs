using System.Diagnostics;
using Confluent.Kafka;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Dedup;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using Metering.Ledger.Flush;
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
public sealed class StreamingEngine
{
    private readonly StreamingOptions _options;
    private readonly NpgsqlDataSource _db;
    private readonly AdmissionOptions _admissionOptions;
    private RecordAdmission _admission;
    private readonly Aggregator _aggregator;
    private readonly AggregateWriter _writer;
    private readonly LedgerWriter _ledger;
    private readonly Dictionary<int, PartitionProgress> _partitions = [];
    private readonly List<KafkaDeadLetter> _deadLetters = [];
    private readonly List<(UInt128, long)> _seenIds = [];
    private readonly FlushIsolation _isolation;
    private DedupHorizon _dedup;
    private Task<double>? _inFlight;
    private FlushBatch? _inFlightBatch;
    private long _pending;
    private IConsumer<Ignore, byte[]>? _consumer;

    /// <summary>Creates an engine over <paramref name="db"/> (migrated) with optional <paramref name="prices"/>.</summary>
    public StreamingEngine(StreamingOptions options, NpgsqlDataSource db, PriceCatalog? prices)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _db = db;
        _admissionOptions = options.Pipeline.Admission(prices?.KnownSkus());
        _admission = new RecordAdmission(NewCatalog(), _admissionOptions);
        _aggregator = new Aggregator(options.Pipeline.Aggregator);
        _writer = _aggregator.CreateWriter();
        _ledger = new LedgerWriter(db, options.ConsumerGroup, options.Topic, _admission.Catalog, _aggregator.Windows, prices);
        _dedup = new DedupHorizon(options.Pipeline.DedupHorizon, options.Pipeline.DedupMaxEntries);
        _isolation = new FlushIsolation(options.Topic);
    }

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

    /// <summary>Flush transaction durations in milliseconds (for the p99 the benchmark reports).</summary>
    public List<double> FlushMilliseconds { get; } = [];

    /// <summary>
    /// Consumes until <paramref name="cancellationToken"/> fires, then flushes and leaves the group cleanly.
    /// With <paramref name="abandonOnCancel"/> it stops WITHOUT flushing or closing, as a crash would (tests).
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken, bool abandonOnCancel = false)
    {
        await StartupRetry.RunAsync("PostgreSQL", ReloadDedupAsync, _options.StartupTimeout, _options.Log, cancellationToken).ConfigureAwait(false);
        var config = _options.KafkaSecurity.Apply(ConsumerConfig(_options.BootstrapServers, _options.ConsumerGroup));
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
        consumer.Subscribe(_options.Topic);
        var lastFlush = Stopwatch.StartNew();
        var crashed = false;
        _writer.BeginBatch();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                // A chunk: one waiting consume, then whatever is already fetched, up to ChunkSize messages. The shared
                // dedup store (if any) is asked once per chunk instead of once per record.
                try
                {
                    if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { Message: not null } first)
                    {
                        _chunk.Add(first);
                        while (_chunk.Count < ChunkSize && consumer.Consume(TimeSpan.Zero) is { Message: not null } next)
                        {
                            _chunk.Add(next);
                        }
                    }
                }
                catch (ConsumeException e) when (e.Error.Code is ErrorCode.Local_AutoOffsetReset or ErrorCode.OffsetOutOfRange)
                {
                    ProcessChunk();
                    SkipLostOffsets(e.Error);
                    continue;
                }

                if (!ProcessChunk())
                {
                    crashed = true;
                    return; // injected crash: nothing flushed, no clean leave
                }

                // Adaptive batching: a due flush waits while the previous one is still committing (consumption goes
                // on into the aggregator), so under load batches grow and the per-key cost of a flush is paid for
                // more records; only the hard cap makes the consumer wait for the database.
                var idle = _inFlight is null || _inFlight.IsCompleted;
                if (_pending >= _options.MaxRecordsPerFlush || (idle && _pending > 0 && lastFlush.Elapsed >= _options.FlushInterval))
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

    /// <summary>Messages of one chunk (see <see cref="RunAsync"/>) and their decoded records and verdicts.</summary>
    private const int ChunkSize = 512;

    private enum Verdict : byte
    {
        Accept,
        Duplicate,
        Reject,
    }

    private readonly List<ConsumeResult<Ignore, byte[]>> _chunk = new(ChunkSize);
    private readonly UsageRecord[] _chunkRecords = new UsageRecord[ChunkSize];
    private readonly Verdict[] _chunkVerdicts = new Verdict[ChunkSize];
    private readonly RejectReason[] _chunkReasons = new RejectReason[ChunkSize];
    private readonly string[] _chunkDetails = new string[ChunkSize];
    private readonly (UInt128, long)[] _sharedCandidates = new (UInt128, long)[ChunkSize];
    private readonly int[] _sharedIndexes = new int[ChunkSize];
    private readonly bool[] _sharedSeen = new bool[ChunkSize];

    /// <summary>Records found to be duplicates by the shared store (another instance counted them).</summary>
    public long SharedDuplicates { get; private set; }

    /// <summary>Chunks whose shared-dedup lookup failed (Redis unreachable): only the local horizon applied.</summary>
    public long SharedDedupDegradedChunks { get; private set; }

    /// <summary>Catalog renewals: the interning catalog was replaced by a fresh one (half full at a flush, or full).</summary>
    public long CatalogRenewals { get; private set; }

    /// <summary>
    /// Admits and dedups the chunk (own horizon first, then one lookup in the shared store for the records that are
    /// new here), then applies the records in offset order. Returns false when the injected crash point was reached.
    /// Called before any rebalance callback acts, so no message of a revoked partition is left in the chunk.
    /// The catalog never refuses a record: when it is full mid-chunk, the records before are applied and flushed, and
    /// the rest of the chunk is admitted into a fresh catalog (one tenant's many SKUs cannot starve the others).
    /// </summary>
    private bool ProcessChunk()
    {
        var chunk = _chunk;
        if (chunk.Count == 0)
        {
            return true;
        }

        var (read, accepted, duplicates) = (Read, _acceptedTotal, _duplicatesTotal);
        try
        {
            if (_pending == 0 && IsHalfFull(_admission.Catalog))
            {
                // Nothing unflushed refers to the old catalog's ids (the in-flight batch carries its own catalog).
                RenewCatalog("half full");
            }

            _admission.BeginChunk(); // the clock is read per chunk: a quiet worker never judges by a stale clock
            var rewinds = _rewinds;
            var start = 0;
            var fresh = false;
            while (start < chunk.Count)
            {
                var end = AdmitSegment(start, stopOnFullCatalog: !fresh);
                for (var i = start; i < end; i++)
                {
                    Apply(chunk[i], i);
                    if (_options.CrashAfterRecords > 0 && Read >= _options.CrashAfterRecords)
                    {
                        return false;
                    }

                    if (_rewinds != rewinds)
                    {
                        return true; // a flush inside Apply was fenced and rewound every partition: the rest is re-consumed
                    }
                }

                if (end < chunk.Count)
                {
                    // chunk[end] found the catalog full: make everything before it durable under the old catalog.
                    Flush();
                    if (_rewinds != rewinds)
                    {
                        return true;
                    }

                    RenewCatalog("full");
                    _admission.BeginChunk();
                }

                fresh = end < chunk.Count;
                start = end;
            }

            return true;
        }
        finally
        {
            chunk.Clear();
            // Metrics per chunk, not per record: a counter update is cheap, 512 of them are not free.
            Observability.MeteringMetrics.RecordsRead(Read - read);
            Observability.MeteringMetrics.RecordsAccepted(_acceptedTotal - accepted);
            Observability.MeteringMetrics.RecordsDuplicate(_duplicatesTotal - duplicates);
            Observability.MeteringMetrics.SetActiveAggregateKeys(_aggregator.ActiveKeys);
        }
    }

    /// <summary>
    /// Admits and dedups chunk[start..] and returns the end of the segment: the chunk's end, or (with
    /// <paramref name="stopOnFullCatalog"/>) the first record the full catalog refused, which is not judged yet.
    /// </summary>
    private int AdmitSegment(int start, bool stopOnFullCatalog)
    {
        var chunk = _chunk;
        var candidates = 0;
        var end = chunk.Count;
        for (var i = start; i < chunk.Count; i++)
        {
            var value = chunk[i].Message.Value ?? [];
            ref var record = ref _chunkRecords[i];
            var reason = _admission.Admit(value, out record, out var detail);
            if (reason == RejectReason.CardinalityLimit && stopOnFullCatalog)
            {
                end = i;
                break;
            }

            _chunkVerdicts[i] = Verdict.Reject;
            if (reason == RejectReason.None)
            {
                switch (_dedup.Check(record.Fingerprint, record.TimeTicks))
                {
                    case DedupVerdict.Duplicate:
                        _chunkVerdicts[i] = Verdict.Duplicate;
                        break;
                    case DedupVerdict.Expired:
                        reason = RejectReason.ExpiredTime;
                        detail = "time is older than the dedup horizon behind the newest record";
                        break;
                    default:
                        _chunkVerdicts[i] = Verdict.Accept;
                        if (_options.SharedDedup is not null)
                        {
                            _sharedCandidates[candidates] = (record.Fingerprint, record.TimeTicks);
                            _sharedIndexes[candidates++] = i;
                        }

                        break;
                }
            }

            _chunkReasons[i] = reason;
            _chunkDetails[i] = detail;
        }

        if (candidates > 0)
        {
            if (_options.SharedDedup!.TryFindSeen(_sharedCandidates.AsSpan(0, candidates), _sharedSeen))
            {
                for (var j = 0; j < candidates; j++)
                {
                    if (_sharedSeen[j])
                    {
                        _chunkVerdicts[_sharedIndexes[j]] = Verdict.Duplicate;
                        SharedDuplicates++;
                    }
                }
            }
            else
            {
                SharedDedupDegradedChunks++;
            }
        }

        return end;
    }

    private static bool IsHalfFull(RecordCatalog catalog) =>
        catalog.Accounts.Count > catalog.Accounts.MaxCount / 2 || catalog.Skus.Count > catalog.Skus.MaxCount / 2 ||
        catalog.DimensionSets.Count > catalog.DimensionSets.MaxCount / 2;

    /// <summary>
    /// Replaces the interning catalog. Only called when nothing unflushed holds the old catalog's ids: the batch in
    /// flight carries its own (<see cref="FlushBatch.Catalog"/>). Loud: a full catalog means cardinality far beyond
    /// a normal flush interval's, which an operator wants to know about (metering_catalog_renewals_total).
    /// </summary>
    private void RenewCatalog(string why)
    {
        var old = _admission.Catalog;
        _admission = new RecordAdmission(NewCatalog(), _admissionOptions);
        CatalogRenewals++;
        Observability.MeteringMetrics.CatalogRenewed(why);
        Console.Error.WriteLine($"stream: interning catalog {why} ({old.Accounts.Count:N0}/{old.Accounts.MaxCount:N0} accounts, {old.Skus.Count:N0}/{old.Skus.MaxCount:N0} SKUs, {old.DimensionSets.Count:N0}/{old.DimensionSets.MaxCount:N0} dimension sets): starting a fresh one; no record was refused");
    }

    private RecordCatalog NewCatalog() => new(_options.Pipeline.Dimensions, _options.Pipeline.MaxAccounts, _options.Pipeline.MaxSkus, _options.Pipeline.MaxDimensionSets);

    private void Apply(ConsumeResult<Ignore, byte[]> result, int index)
    {
        if (_isolation.Active)
        {
            // Isolating a data fault: flushes are capped, and each record's raw bytes are kept until it is durable.
            if (_pending >= _isolation.Cap)
            {
                var rewinds = _rewinds;
                Flush();
                if (_rewinds != rewinds)
                {
                    return; // that flush failed and rewound: this record is re-consumed
                }
            }

            _isolation.Track(result.Partition.Value, result.Offset.Value, result.Message.Value ?? []);
        }

        var partition = Progress(result.Partition.Value);
        var offset = result.Offset.Value;
        if (partition.NextOffset >= 0 && offset > partition.NextOffset && !_options.AllowOffsetHoles)
        {
            RecordGap(partition, partition.NextOffset, offset, "the broker delivered a later offset: the records between were deleted (retention) before they were read");
        }

        partition.NextOffset = offset + 1;
        partition.Read++;
        Read++;
        _pending++;
        switch (_chunkVerdicts[index])
        {
            case Verdict.Duplicate:
                partition.Duplicates++;
                _duplicatesTotal++;
                return;
            case Verdict.Accept:
                ref var record = ref _chunkRecords[index];
                var rewindsBefore = _rewinds;
                var added = _writer.Add(in record);
                if (added != AddStatus.Added && _options.Pipeline.Aggregator.OnKeyLimit == KeyLimitPolicy.Reject)
                {
                    // --on-key-limit reject: the operator chose a dead letter over an early flush.
                    Observability.MeteringMetrics.AggregateOverflow(1);
                    partition.Rejected++;
                    var detail = $"the aggregate table holds {_aggregator.ActiveKeys:N0} keys, its limit (--on-key-limit reject)";
                    Observability.MeteringMetrics.RecordsRejected(1, RejectReason.AggregateKeyLimit.Code());
                    _deadLetters.Add(new KafkaDeadLetter(result.Partition.Value, offset, RejectReason.AggregateKeyLimit.Code(), detail, result.Message.Value ?? []));
                    return;
                }
                else if (added != AddStatus.Added)
                {
                    // Key limit: flush everything before this record (its offset is not yet consumed), then count it
                    // in the fresh generation.
                    partition.NextOffset = offset;
                    partition.Read--;
                    _pending--;
                    Observability.MeteringMetrics.AggregateOverflow(1);
                    Flush();
                    if (_rewinds != rewindsBefore)
                    {
                        return; // fenced: this record is re-consumed after the rewind
                    }

                    partition = Progress(result.Partition.Value);
                    partition.NextOffset = offset + 1;
                    partition.Read++;
                    _pending++;
                    _writer.Add(in record);
                }

                partition.Accepted++;
                _acceptedTotal++;
                partition.AcceptedNanos += record.QuantityNanos;
                _seenIds.Add((record.Fingerprint, record.TimeTicks));
                return;
            default:
                partition.Rejected++;
                Observability.MeteringMetrics.RecordsRejected(1, _chunkReasons[index].Code());
                _deadLetters.Add(new KafkaDeadLetter(result.Partition.Value, offset, _chunkReasons[index].Code(), _chunkDetails[index], result.Message.Value ?? []));
                return;
        }
    }

    /// <summary>
    /// The broker no longer holds the offset a partition must resume from (retention deleted records we never
    /// read). The records are gone; pretending otherwise would stall the partition forever. Each affected partition
    /// resumes at the broker's earliest offset and the missing range is reported on stderr, counted, and recorded in
    /// PostgreSQL (offset_gaps, in the same transaction that advances the offset), so `metering verify` fails loudly.
    /// An offset beyond the log's end means the topic was truncated or recreated: that stops the engine.
    /// </summary>
    private void SkipLostOffsets(Error error)
    {
        foreach (var p in _partitions.Values)
        {
            if (p.NextOffset < 0)
            {
                continue; // nothing consumed yet: it starts at the beginning, whatever that is
            }

            var marks = _consumer!.QueryWatermarkOffsets(new TopicPartition(_options.Topic, p.Partition), TimeSpan.FromSeconds(10));
            if (p.NextOffset > marks.High.Value)
            {
                throw new InvalidOperationException($"partition {_options.Topic}[{p.Partition}]: PostgreSQL says resume at offset {p.NextOffset} but the log ends at {marks.High.Value}; the topic was truncated or recreated ({error.Reason}). Refusing to guess.");
            }

            if (p.NextOffset >= marks.Low.Value)
            {
                continue;
            }

            var to = marks.Low.Value;
            RecordGap(p, p.NextOffset, to, error.Reason);
            p.NextOffset = to;
            // librdkafka stops fetching a partition whose offset reset failed, and refuses a seek on it (ERR__STATE);
            // re-assigning it at the new offset restarts the fetcher (the group assignment is unchanged).
            var tp = new TopicPartition(_options.Topic, p.Partition);
            _consumer.IncrementalUnassign([tp]);
            _consumer.IncrementalAssign([new TopicPartitionOffset(tp, to)]);
        }
    }

    /// <summary>
    /// A partition this group never consumed (no offset in PostgreSQL) starts at the broker's log start. Unless the
    /// operator said the log start is the whole history (<see cref="StartOffsetPolicy.EarliestIsComplete"/>), records
    /// before it were deleted unread: [0, low watermark) is recorded as a gap (offset_gaps, in the next flush, which
    /// also stores the partition's first offset) and the partition starts at the low watermark. Returns the offset
    /// to start from, or -1 for the beginning.
    /// </summary>
    private long FirstAssignmentStart(PartitionProgress partition)
    {
        if (_options.StartOffset == StartOffsetPolicy.EarliestIsComplete)
        {
            return -1;
        }

        var low = _consumer!.QueryWatermarkOffsets(new TopicPartition(_options.Topic, partition.Partition), TimeSpan.FromSeconds(10)).Low.Value;
        if (low <= 0)
        {
            return -1;
        }

        RecordGap(partition, 0, low, "first assignment of the partition to this group: the broker's log starts there, retention deleted the records before; if that history was billed elsewhere, use --start-offset earliest-is-complete");
        partition.NextOffset = low;
        return low;
    }

    /// <summary>Records offsets [from, to) of a partition as lost: reported now, made durable with the next flush.</summary>
    private void RecordGap(PartitionProgress partition, long from, long to, string why)
    {
        var gap = new OffsetGap(partition.Partition, from, to);
        _options.Log.WriteLine($"DATA LOSS: {_options.Topic}[{partition.Partition}] offsets {from}..{to - 1} ({to - from:N0} records) were never consumed ({why}); resuming at {to}");
        partition.Gaps.Add(gap);
        LostRecords += to - from;
        _pending++;
    }

    private PartitionProgress Progress(int partition) =>
        _partitions.TryGetValue(partition, out var p) ? p : throw new InvalidOperationException($"record from unassigned partition {partition}");

    /// <summary>Makes everything consumed so far durable and waits for it (revocation, assignment, shutdown, key limit).</summary>
    private void Flush()
    {
        StartFlush();
        WaitForInFlight();
    }

    /// <summary>
    /// Drains the aggregator into a batch and commits it on a background task while consumption goes on into the
    /// other generation. At most one flush is in flight: a new one first waits for the previous, so batches commit
    /// in order and each starts at the offsets the previous one ended at (the fence).
    /// </summary>
    private void StartFlush()
    {
        WaitForInFlight();
        _writer.EndBatch();
        List<Aggregates.Aggregation.AggregateRow> rows;
        try
        {
            rows = _aggregator.Flush();
        }
        finally
        {
            _writer.BeginBatch();
        }

        var active = _partitions.Values.Where(p => p.Read > 0 || p.Gaps.Count > 0).ToList();
        if (active.Count == 0)
        {
            return;
        }

        // Snapshots go to the batch; the live progress objects start the next batch where this one ends.
        var snapshots = active.Select(p => new PartitionProgress
        {
            Partition = p.Partition, StartOffset = p.StartOffset, NextOffset = p.NextOffset, Read = p.Read,
            Accepted = p.Accepted, Duplicates = p.Duplicates, Rejected = p.Rejected, AcceptedNanos = p.AcceptedNanos, Gaps = [.. p.Gaps],
        }).ToList();
        foreach (var p in active)
        {
            p.Reset();
        }

        var batch = new FlushBatch { Rows = rows, Catalog = _admission.Catalog, Partitions = snapshots, DeadLetters = [.. _deadLetters], SeenIds = [.. _seenIds] };
        _deadLetters.Clear();
        _seenIds.Clear();
        _pending = 0;
        _inFlight = Task.Run(() => CommitWithRetryAsync(batch));
        _inFlightBatch = batch;
    }

    /// <summary>
    /// Commits a batch, retrying on infrastructure faults (a PostgreSQL restart mid-flush). Retrying is safe: the
    /// transaction is atomic, and if a "failed" attempt did commit, the retry is fenced and the batch replayed. A data
    /// fault (<see cref="FlushFaults"/>) is never retried as is: it is thrown to <see cref="WaitForInFlight"/>.
    /// </summary>
    private async Task<double> CommitWithRetryAsync(FlushBatch batch)
    {
        var clock = Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var attemptClock = Stopwatch.StartNew();
                await _ledger.WriteAsync(batch, CancellationToken.None).ConfigureAwait(false);
                Observability.MeteringMetrics.PostgresWriteCompleted(attemptClock.Elapsed);
                return clock.Elapsed.TotalMilliseconds;
            }
            catch (Exception e) when (FlushFaults.Classify(e) == FlushFaultKind.Infrastructure && attempt < 60)
            {
                FlushRetries++;
                Observability.MeteringMetrics.PostgresWriteCompleted(TimeSpan.Zero, failed: true);
                NpgsqlConnection.ClearAllPools(); // connections died with the server
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2_000, 100 * attempt))).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Waits for the flush in flight; on a fence discards everything unflushed and rewinds to PostgreSQL; on a data
    /// fault does the same and isolates the offending records (<see cref="FlushIsolation"/>).
    /// </summary>
    private void WaitForInFlight()
    {
        if (_inFlight is not { } flight)
        {
            return;
        }

        var batch = _inFlightBatch!;
        _inFlight = null;
        _inFlightBatch = null;
        double milliseconds;
        try
        {
            milliseconds = flight.GetAwaiter().GetResult();
        }
        catch (FencedException e)
        {
            // Another member committed these partitions: this batch and everything after it is void.
            ReportFenced(batch, e);
            _writer.EndBatch();
            try
            {
                DiscardAndRewind();
            }
            finally
            {
                _writer.BeginBatch();
            }

            return;
        }
        catch (Exception e) when (FlushFaults.Classify(e) == FlushFaultKind.Data)
        {
            if (_isolation.OnDataFault(batch, e) is { } deadLetter)
            {
                // The batch was one record: book it as ledger_rejected before rewinding past it (a data fault here is
                // not tied to the record and stops the engine).
                _inFlight = CommitWithRetryAsync(deadLetter);
                _inFlightBatch = deadLetter;
                WaitForInFlight();
            }

            _writer.EndBatch();
            try
            {
                DiscardAndRewind();
            }
            finally
            {
                _writer.BeginBatch();
            }

            return;
        }

        FlushMilliseconds.Add(milliseconds);
        Flushes++;
        Observability.MeteringMetrics.FlushCompleted(TimeSpan.FromMilliseconds(milliseconds));
        foreach (var currency in batch.TotalChanges.GroupBy(c => c.Currency))
        {
            Observability.MeteringMetrics.Rated(currency.Sum(c => c.AmountAfter - c.AmountBefore), currency.Key.Trim());
        }

        _isolation.OnCommitted(batch, _partitions.Keys);
        if (_options.CrashAfterFlushes > 0 && Flushes >= _options.CrashAfterFlushes)
        {
            throw new InjectedCrashException(); // fault injection: committed, nothing after the commit done
        }

        _options.SharedDedup?.MarkAccepted(batch.SeenIds); // only now: the records behind these ids are durable
        _options.LiveCounters?.Publish(batch.TotalChanges);
        PublishDeadLetters(batch.DeadLetters);
        StoreKafkaOffsets(batch);
    }

    /// <summary>
    /// Kafka's committed offsets are informational (lag tools); PostgreSQL holds the truth. They are only stored here
    /// (local, never blocks) and committed in the background; a partition no longer assigned refuses the store,
    /// which is harmless and only counted.
    /// </summary>
    private void StoreKafkaOffsets(FlushBatch batch)
    {
        foreach (var p in batch.Partitions)
        {
            try
            {
                _consumer?.StoreOffset(new TopicPartitionOffset(_options.Topic, p.Partition, p.NextOffset));
            }
            catch (KafkaException)
            {
                KafkaCommitFailures++;
            }
        }
    }

    private long _fencedBatches;

    /// <summary>Flush batches refused by the offset fence (another member committed first) and rolled back (replayed from PostgreSQL).</summary>
    public long FencedBatches => Interlocked.Read(ref _fencedBatches);

    private void ReportFenced(FlushBatch batch, FencedException e)
    {
        Interlocked.Increment(ref _fencedBatches);
        Observability.MeteringMetrics.FlushFenced();
        var records = batch.Partitions.Sum(p => p.Read);
        var partitions = string.Join(",", batch.Partitions.Select(p => p.Partition));
        _options.Log.WriteLine($"stream: FENCED flush: {e.Message}; the batch ({records:N0} records of partitions {partitions}) was rolled back and everything unflushed is re-read from PostgreSQL's offsets");
    }

    private DeadLetterOutbox? _outbox;

    /// <summary>Dead letters produced to the dead-letter topic (acknowledged and marked published in the outbox).</summary>
    public long DeadLettersPublished => _outbox?.Published ?? _deadLettersPublishedBefore;

    /// <summary>Dead letters the dead-letter topic refused (they stay in the outbox and are produced by a later drain).</summary>
    public long DeadLetterPublishFailures => _outbox?.Failures ?? 0;

    private long _deadLettersPublishedBefore;

    /// <summary>
    /// Committed dead letters reach the dead-letter topic through the outbox (the dead_letters table, written in
    /// the flush transaction): this only wakes its drainer, which produces and marks them off the poll thread.
    /// </summary>
    private void PublishDeadLetters(IReadOnlyList<KafkaDeadLetter> letters)
    {
        if (letters.Count > 0)
        {
            _outbox?.Kick();
        }
    }

    private DeadLetterOutbox? StartOutbox()
    {
        var topic = _options.DeadLetterTopic ?? _options.Topic + ".dead-letters";
        if (topic.Length == 0)
        {
            return null;
        }

        return new DeadLetterOutbox(_db, _options.Topic, topic, () => new ProducerBuilder<byte[]?, byte[]>(_options.KafkaSecurity.Apply(Kafka.KafkaPartitioning.Apply(new ProducerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 20,
            MessageTimeoutMs = 60_000,
        }))).Build(), _options.Log);
    }

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

    private long _acceptedTotal;
    private long _duplicatesTotal;
    private long _rewinds;

    private void DiscardAndRewind()
    {
        _rewinds++;
        _ = _aggregator.Flush(); // drop the unflushed aggregates
        _deadLetters.Clear();
        _seenIds.Clear();
        _pending = 0;
        ReloadDedupAsync(CancellationToken.None).GetAwaiter().GetResult();
        var offsets = _ledger.LoadOffsetsAsync(CancellationToken.None).GetAwaiter().GetResult();
        foreach (var p in _partitions.Values)
        {
            var next = offsets.GetValueOrDefault(p.Partition, -1);
            p.NextOffset = next;
            p.Reset();
            if (next < 0)
            {
                next = FirstAssignmentStart(p); // the discarded batch held its first-assignment gap: record it again
            }

            _resumeOffsets[p.Partition] = next;
            _consumer?.Seek(new TopicPartitionOffset(_options.Topic, p.Partition, next < 0 ? Offset.Beginning : new Offset(next)));
        }
    }

    private List<TopicPartitionOffset> OnAssigned(List<TopicPartition> assigned)
    {
        ProcessChunk();
        // The new partitions' ids were committed by their previous owner (which flushed on revocation). Make our own
        // batch durable, then rebuild the dedup horizon from PostgreSQL so it holds every id of every partition we
        // now own: otherwise a retry of a record the previous owner counted would be counted again.
        if (_partitions.Count > 0)
        {
            Flush();
        }

        ReloadDedupAsync(CancellationToken.None).GetAwaiter().GetResult();
        var offsets = _ledger.LoadOffsetsAsync(CancellationToken.None).GetAwaiter().GetResult();
        var positions = new List<TopicPartitionOffset>();
        foreach (var tp in assigned)
        {
            var next = offsets.GetValueOrDefault(tp.Partition.Value, -1);
            var progress = new PartitionProgress { Partition = tp.Partition.Value, StartOffset = next, NextOffset = next };
            _partitions[tp.Partition.Value] = progress;
            if (next < 0)
            {
                next = FirstAssignmentStart(progress);
            }

            positions.Add(new TopicPartitionOffset(tp, next < 0 ? Offset.Beginning : new Offset(next)));
            _resumeOffsets[tp.Partition.Value] = next;
        }

        Volatile.Write(ref _assignedCount, _partitions.Count);
        _rejoining = false;
        return positions;
    }

    private void OnRevoked(List<TopicPartitionOffset> revoked)
    {
        ProcessChunk();
        Flush(); // what we consumed from them becomes durable before another member takes over
        foreach (var tp in revoked)
        {
            _partitions.Remove(tp.Partition.Value);
            _resumeOffsets.TryRemove(tp.Partition.Value, out _);
        }

        Volatile.Write(ref _assignedCount, _partitions.Count);
    }

    private void OnLost(List<TopicPartitionOffset> lost)
    {
        _chunk.Clear(); // their records are void: the partitions belong to someone else now
        WaitForInFlight(); // its outcome (commit or fence) is settled before we rewind

        foreach (var tp in lost)
        {
            _partitions.Remove(tp.Partition.Value);
            _resumeOffsets.TryRemove(tp.Partition.Value, out _);
        }

        Volatile.Write(ref _assignedCount, _partitions.Count);
        _rejoining = true; // until the group assigns again (the watchdog's clock runs meanwhile)

        _writer.EndBatch();
        try
        {
            DiscardAndRewind();
        }
        finally
        {
            _writer.BeginBatch();
        }
    }

    private async Task ReloadDedupAsync(CancellationToken cancellationToken) =>
        _dedup = await _ledger.LoadDedupAsync(_options.Pipeline.DedupHorizon, _options.Pipeline.DedupMaxEntries, cancellationToken).ConfigureAwait(false);
}
