using System.Diagnostics;
using Confluent.Kafka;
using Metering.Ledger.Flush;
using Npgsql;

namespace Metering.Ingest.Streaming;

/// <summary>The engine's flushes: draining the aggregates into a batch, committing it, fences, data faults, dead letters.</summary>
public sealed partial class StreamingEngine
{
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
        var drainStart = Stopwatch.GetTimestamp();
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
            _transactions.Clear();
            Stages.AddDrain(drainStart);
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

        var (kept, meterInputs) = _transactions.Drain();
        var batch = new FlushBatch { Rows = rows, Catalog = _admission.Catalog, Transactions = kept, MeterInputs = meterInputs, Partitions = snapshots, DeadLetters = [.. _deadLetters], SeenIds = [.. _seenIds] };
        _deadLetters.Clear();
        _seenIds.Clear();
        _late.FlushStarted(batch.SeenIds);
        _pending = 0;
        _flushedSinceStart = true;
        Stages.AddDrain(drainStart);
        Stages.MarkFlushStarted();
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
        var stages = Stages;
        var started = Stopwatch.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var attemptClock = Stopwatch.StartNew();
                await _ledger.WriteAsync(batch, CancellationToken.None).ConfigureAwait(false);
                stages.AddCommit(started);
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
        var waitStart = Stopwatch.GetTimestamp();
        try
        {
            try
            {
                milliseconds = flight.GetAwaiter().GetResult();
            }
            finally
            {
                Stages.AddCommitWait(waitStart);
            }
        }
        catch (FencedException e)
        {
            // Another member committed these partitions: this batch and everything after it is void.
            ReportFenced(batch, e);
            DiscardAndRewind();

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

            DiscardAndRewind();

            return;
        }

        _late.Committed();
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
}
