using System.Diagnostics;
using Confluent.Kafka;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Dedup;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
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
    private readonly RecordCatalog _catalog;
    private readonly UsageRecordParser _parser;
    private readonly Aggregator _aggregator;
    private readonly AggregateWriter _writer;
    private readonly LedgerWriter _ledger;
    private readonly Dictionary<int, PartitionProgress> _partitions = [];
    private readonly List<KafkaDeadLetter> _deadLetters = [];
    private readonly List<(UInt128, long)> _seenIds = [];
    private DedupHorizon _dedup;
    private long _pending;
    private IConsumer<string?, byte[]>? _consumer;

    /// <summary>Creates an engine over <paramref name="db"/> (migrated) with optional <paramref name="prices"/>.</summary>
    public StreamingEngine(StreamingOptions options, NpgsqlDataSource db, PriceCatalog? prices)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _db = db;
        _catalog = new RecordCatalog();
        _parser = new UsageRecordParser(_catalog, options.Pipeline.Decoder);
        _aggregator = new Aggregator(options.Pipeline.Aggregator);
        _writer = _aggregator.CreateWriter();
        _ledger = new LedgerWriter(db, options.ConsumerGroup, options.Topic, _catalog, _aggregator.Windows, prices);
        _dedup = new DedupHorizon(options.Pipeline.DedupHorizon, options.Pipeline.DedupMaxEntries);
    }

    /// <summary>Records read since start (progress output).</summary>
    public long Read { get; private set; }

    /// <summary>Informational Kafka offset commits refused (e.g. during a rebalance); harmless, PostgreSQL is the truth.</summary>
    public long KafkaCommitFailures { get; private set; }

    /// <summary>Partitions currently assigned to this engine.</summary>
    public int AssignedPartitions => Volatile.Read(ref _assignedCount);

    private int _assignedCount;

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
        await ReloadDedupAsync(CancellationToken.None).ConfigureAwait(false);
        var config = new ConsumerConfig
        {
            BootstrapServers = _options.BootstrapServers,
            GroupId = _options.ConsumerGroup,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            SessionTimeoutMs = 6_000,
            HeartbeatIntervalMs = 500,
            FetchWaitMaxMs = 50,
        };
        using var consumer = new ConsumerBuilder<string?, byte[]>(config)
            .SetPartitionsAssignedHandler((c, assigned) => OnAssigned(assigned))
            .SetPartitionsRevokedHandler((c, revoked) => OnRevoked(revoked))
            .SetPartitionsLostHandler((c, lost) => OnLost(lost))
            .Build();
        _consumer = consumer;
        consumer.Subscribe(_options.Topic);
        var lastFlush = Stopwatch.StartNew();
        _writer.BeginBatch();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
                if (result is { Message: not null })
                {
                    Process(result);
                    if (_options.CrashAfterRecords > 0 && Read >= _options.CrashAfterRecords)
                    {
                        return; // injected crash: nothing flushed, no clean leave
                    }
                }

                if (_pending >= _options.MaxRecordsPerFlush || (lastFlush.Elapsed >= _options.FlushInterval && _pending > 0))
                {
                    Flush();
                    lastFlush.Restart();
                }
            }

            if (abandonOnCancel)
            {
                return; // as if killed: nothing flushed, no clean leave
            }

            Flush();
            consumer.Close();
        }
        finally
        {
            _writer.EndBatch();
            _consumer = null;
        }
    }

    private void Process(ConsumeResult<string?, byte[]> result)
    {
        var partition = Progress(result.Partition.Value);
        var offset = result.Offset.Value;
        partition.NextOffset = offset + 1;
        partition.Read++;
        Read++;
        _pending++;
        var value = result.Message.Value ?? [];
        UsageRecord record = default;
        var detail = "";
        var reason = value.Length > _options.Pipeline.Decoder.MaxLineBytes
            ? RejectReason.LineTooLong
            : _parser.Parse(value, out record, out detail);
        if (reason == RejectReason.LineTooLong)
        {
            detail = $"record is {value.Length} bytes; the limit is {_options.Pipeline.Decoder.MaxLineBytes}";
        }

        if (reason == RejectReason.None)
        {
            switch (_dedup.Check(record.Fingerprint, record.TimeTicks))
            {
                case DedupVerdict.Duplicate:
                    partition.Duplicates++;
                    return;
                case DedupVerdict.Expired:
                    reason = RejectReason.ExpiredTime;
                    detail = "time is older than the dedup horizon behind the newest record";
                    break;
                default:
                    if (_writer.Add(in record) != AddStatus.Added)
                    {
                        // Key limit: flush everything before this record (its offset is not yet consumed), then
                        // count it in the fresh generation.
                        partition.NextOffset = offset;
                        partition.Read--;
                        _pending--;
                        Flush();
                        partition = Progress(result.Partition.Value);
                        partition.NextOffset = offset + 1;
                        partition.Read++;
                        _pending++;
                        _writer.Add(in record);
                    }

                    partition.Accepted++;
                    partition.AcceptedNanos += record.QuantityNanos;
                    _seenIds.Add((record.Fingerprint, record.TimeTicks));
                    return;
            }
        }

        partition.Rejected++;
        _deadLetters.Add(new KafkaDeadLetter(result.Partition.Value, offset, reason.Code(), detail, value));
    }

    private PartitionProgress Progress(int partition) =>
        _partitions.TryGetValue(partition, out var p) ? p : throw new InvalidOperationException($"record from unassigned partition {partition}");

    private void Flush()
    {
        _writer.EndBatch();
        try
        {
            var rows = _aggregator.Flush();
            var active = _partitions.Values.Where(p => p.Read > 0).ToList();
            if (active.Count == 0)
            {
                return;
            }

            var batch = new FlushBatch { Rows = rows, Partitions = active, DeadLetters = [.. _deadLetters], SeenIds = [.. _seenIds] };
            var clock = Stopwatch.StartNew();
            try
            {
                _ledger.WriteAsync(batch, CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (FencedException)
            {
                // Another member committed these partitions: our batch is void. Rebuild from PostgreSQL.
                DiscardAndRewind();
                return;
            }

            FlushMilliseconds.Add(clock.Elapsed.TotalMilliseconds);
            Flushes++;
            foreach (var p in active)
            {
                p.Reset();
            }

            _deadLetters.Clear();
            _seenIds.Clear();
            _pending = 0;
            // Kafka's committed offsets are informational (lag tools); PostgreSQL holds the truth, so a commit
            // refused mid-rebalance is harmless and only counted.
            try
            {
                _consumer?.Commit(active.Select(p => new TopicPartitionOffset(_options.Topic, p.Partition, p.NextOffset)));
            }
            catch (KafkaException)
            {
                KafkaCommitFailures++;
            }
        }
        finally
        {
            _writer.BeginBatch();
        }
    }

    private void DiscardAndRewind()
    {
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
            _consumer?.Seek(new TopicPartitionOffset(_options.Topic, p.Partition, next < 0 ? Offset.Beginning : new Offset(next)));
        }
    }

    private List<TopicPartitionOffset> OnAssigned(List<TopicPartition> assigned)
    {
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
            _partitions[tp.Partition.Value] = new PartitionProgress { Partition = tp.Partition.Value, StartOffset = next, NextOffset = next };
            positions.Add(new TopicPartitionOffset(tp, next < 0 ? Offset.Beginning : new Offset(next)));
        }

        Volatile.Write(ref _assignedCount, _partitions.Count);
        return positions;
    }

    private void OnRevoked(List<TopicPartitionOffset> revoked)
    {
        Flush(); // what we consumed from them becomes durable before another member takes over
        foreach (var tp in revoked)
        {
            _partitions.Remove(tp.Partition.Value);
        }

        Volatile.Write(ref _assignedCount, _partitions.Count);
    }

    private void OnLost(List<TopicPartitionOffset> lost)
    {
        foreach (var tp in lost)
        {
            _partitions.Remove(tp.Partition.Value);
        }

        Volatile.Write(ref _assignedCount, _partitions.Count);

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
