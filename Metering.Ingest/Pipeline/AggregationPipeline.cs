using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Dedup;
using Metering.Aggregates.Framing;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using Metering.Ingest.Output;

namespace Metering.Ingest.Pipeline;

/// <summary>
/// Stream -> decode -> dedup -> aggregate, on two threads: the caller's task decodes (System.IO.Pipelines +
/// <see cref="NdjsonStreamDecoder"/>) and hands full batches through a bounded queue to a dedicated thread that
/// checks each record against the <see cref="DedupHorizon"/> and adds it to the <see cref="Aggregator"/>.
/// Rejected records go to the <see cref="DeadLetterWriter"/>. At the end the aggregates are flushed and merged.
/// </summary>
public sealed class AggregationPipeline
{
    private readonly AggregationPipelineOptions _options;
    private readonly RecordCatalog _catalog;
    private readonly DeadLetterWriter _deadLetters;

    /// <summary>Creates a pipeline writing rejects to <paramref name="deadLetters"/>.</summary>
    public AggregationPipeline(AggregationPipelineOptions options, RecordCatalog catalog, DeadLetterWriter deadLetters)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(deadLetters);
        _options = options;
        _catalog = catalog;
        _deadLetters = deadLetters;
        Aggregator = new Aggregator(options.Aggregator);
    }

    /// <summary>The SKUs the price books know, for <see cref="AggregationPipelineOptions.UnknownSkus"/> = reject.</summary>
    public IReadOnlySet<string>? KnownSkus { get; init; }

    /// <summary>The accounts that exist, for <see cref="AggregationPipelineOptions.UnknownAccounts"/> = reject.</summary>
    public IAccountDirectory? Accounts { get; init; }

    /// <summary>The aggregates (exposed for stats).</summary>
    public Aggregator Aggregator { get; }

    /// <summary>Records read so far (for progress output; approximate while running).</summary>
    public long ReadSoFar => Volatile.Read(ref _decoder)?.Counters.Read ?? 0;

    private NdjsonStreamDecoder? _decoder;

    /// <summary>Runs over <paramref name="input"/> to its end.</summary>
    public async Task<PipelineResult> RunAsync(Stream input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var stopwatch = Stopwatch.StartNew();
        var decoder = new NdjsonStreamDecoder(new RecordAdmission(_catalog, _options.Admission(KnownSkus, Accounts)));
        Volatile.Write(ref _decoder, decoder);
        using var handoff = new BatchHandoff(_options.QueueDepth, _options.Decoder.BatchSize, _deadLetters);
        var stage = new AggregateStage(Aggregator, new DedupHorizon(FileHorizon(_options), _options.DedupMaxEntries), _deadLetters, _options.Aggregator.OnKeyLimit);
        var aggregateThread = new Thread(() => stage.Run(handoff)) { Name = "aggregate", IsBackground = true };
        aggregateThread.Start();
        try
        {
            var reader = PipeReader.Create(input, new StreamPipeReaderOptions(bufferSize: 1 << 20, minimumReadSize: 1 << 18));
            await decoder.DecodeAsync(reader, handoff, cancellationToken).ConfigureAwait(false);
            await reader.CompleteAsync().ConfigureAwait(false);
        }
        finally
        {
            handoff.CompleteAdding();
            aggregateThread.Join();
        }

        if (stage.Failure is not null)
        {
            throw new InvalidOperationException("the aggregating thread failed", stage.Failure);
        }

        // The final drain and merge are part of the run (a month of usage drains millions of keys): timed apart.
        var drainStart = stopwatch.Elapsed;
        stage.FlushInto();
        var rows = stage.MergedRows();
        var elapsed = stopwatch.Elapsed;
        var rejected = (long[])decoder.Counters.RejectedByReason.Clone();
        rejected[(int)RejectReason.ExpiredTime] += stage.Expired;
        rejected[(int)RejectReason.Conflict] += stage.Conflicts;
        rejected[(int)RejectReason.AggregateKeyLimit] += stage.KeyLimitRejects;
        return new PipelineResult
        {
            Read = decoder.Counters.Read,
            Accepted = stage.Accepted,
            Duplicates = stage.Duplicates,
            RejectedByReason = rejected,
            Bytes = decoder.Counters.Bytes,
            Elapsed = elapsed,
            DrainElapsed = elapsed - drainStart,
            Rows = rows,
            EarlyFlushes = stage.EarlyFlushes,
            DedupEntries = stage.Dedup.Count,
            DedupBytes = stage.Dedup.MemoryBytes,
            DedupEarlyEvictions = stage.Dedup.EarlyEvictions,
        };
    }

    /// <summary>Decodes <paramref name="input"/> only (no dedup, no aggregation): the baseline of the end-to-end benchmark.</summary>
    public static async Task<DecodeCounters> DecodeOnlyAsync(Stream input, RecordCatalog catalog, DecoderOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var decoder = new NdjsonStreamDecoder(new RecordAdmission(catalog, new AdmissionOptions { Decoder = options }));
        var reader = PipeReader.Create(input, new StreamPipeReaderOptions(bufferSize: 1 << 20, minimumReadSize: 1 << 18));
        await decoder.DecodeAsync(reader, new DiscardingSink(), cancellationToken).ConfigureAwait(false);
        await reader.CompleteAsync().ConfigureAwait(false);
        return decoder.Counters;
    }

    private sealed class DiscardingSink : IRecordSink
    {
        public RecordBatch OnBatch(RecordBatch batch) => batch;

        public void OnDeadLetter(DeadLetter deadLetter)
        {
        }
    }

    /// <summary>Bounded queue of full batches plus a pool of empty ones: the decoder never outruns the aggregator by more than the queue depth.</summary>
    private sealed class BatchHandoff(int depth, int batchSize, DeadLetterWriter deadLetters) : IRecordSink, IDisposable
    {
        private readonly BlockingCollection<RecordBatch> _full = new(depth);
        private readonly ConcurrentQueue<RecordBatch> _empty = new();

        public RecordBatch OnBatch(RecordBatch batch)
        {
            _full.Add(batch);
            return _empty.TryDequeue(out var next) ? next : new RecordBatch(batchSize);
        }

        public void OnDeadLetter(DeadLetter deadLetter) => deadLetters.Write(deadLetter);

        public void Recycle(RecordBatch batch)
        {
            batch.Count = 0;
            _empty.Enqueue(batch);
        }

        public IEnumerable<RecordBatch> Consume() => _full.GetConsumingEnumerable();

        public void CompleteAdding() => _full.CompleteAdding();

        public void Dispose() => _full.Dispose();
    }

    /// <summary>
    /// The file mode keeps the whole lateness window in memory (one pass, no durable store): the same rule as the
    /// engine, which keeps only the dedup horizon in memory and looks older ids up in PostgreSQL.
    /// </summary>
    private static TimeSpan FileHorizon(AggregationPipelineOptions options) =>
        options.MaxLateness > options.DedupHorizon ? options.MaxLateness : options.DedupHorizon;

    /// <summary>The aggregating thread: dedup then aggregate, one batch per writer entry.</summary>
    private sealed class AggregateStage(Aggregator aggregator, DedupHorizon dedup, DeadLetterWriter deadLetters, KeyLimitPolicy policy)
    {
        private readonly AggregateWriter _writer = aggregator.CreateWriter();
        private readonly List<List<AggregateRow>> _flushed = [];

        public DedupHorizon Dedup { get; } = dedup;
        public long Accepted { get; private set; }
        public long Duplicates { get; private set; }
        public long Expired { get; private set; }
        public long Conflicts { get; private set; }
        public long KeyLimitRejects { get; private set; }
        public long EarlyFlushes { get; private set; }
        public Exception? Failure { get; private set; }

        /// <summary>Why a record was expired: past the lateness window, or in a span evicted early from a full table.</summary>
        private string ExpiredDetail(long timeTicks) =>
            timeTicks >= Dedup.WatermarkTicks - Dedup.Horizon.Ticks
                ? $"the dedup table is full (--dedup-max-entries {Dedup.MaxEntries}): ids this old were evicted early, so the record could no longer be checked"
                : LatenessRule.Detail(Dedup.Horizon, "the newest record");

        public void Run(BatchHandoff handoff)
        {
            try
            {
                foreach (var batch in handoff.Consume())
                {
                    Process(batch);
                    handoff.Recycle(batch);
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Failure = e;
                foreach (var _ in handoff.Consume())
                {
                    // drain so the decoder is not blocked forever; the run fails with the error above
                }
            }
        }

        private void Process(RecordBatch batch)
        {
            var items = batch.Items;
            _writer.BeginBatch();
            const int PrefetchDistance = 8;
            var count = batch.Count;
            for (var i = 0; i < count; i++)
            {
                if (i + PrefetchDistance < count)
                {
                    // Both tables are far larger than the caches: start the next records' misses now.
                    ref readonly var ahead = ref items[i + PrefetchDistance];
                    Dedup.Prefetch(ahead.Fingerprint);
                    _writer.Prefetch(in ahead);
                }

                ref readonly var record = ref items[i];
                switch (Dedup.Check(record.Fingerprint, record.PayloadDigest, record.TimeTicks))
                {
                    case DedupVerdict.Duplicate:
                        Duplicates++;
                        continue;
                    case DedupVerdict.Conflict:
                        // The raw line is gone by now (batches carry decoded records): the line number locates it.
                        Conflicts++;
                        deadLetters.Write(new DeadLetter(record.LineNumber, -1, RejectReason.Conflict, ConflictDetail.Of([], "the dedup horizon of this input"), [], 0));
                        continue;
                    case DedupVerdict.Expired:
                        Expired++;
                        deadLetters.Write(new DeadLetter(record.LineNumber, -1, RejectReason.ExpiredTime, ExpiredDetail(record.TimeTicks), [], 0));
                        continue;
                }

                if (_writer.Add(in record) == AddStatus.Added)
                {
                    Accepted++;
                    continue;
                }

                if (policy == KeyLimitPolicy.Reject)
                {
                    KeyLimitRejects++;
                    deadLetters.Write(new DeadLetter(record.LineNumber, -1, RejectReason.AggregateKeyLimit,
                        $"the aggregate table holds its limit of {aggregator.Options.KeyLimit} active keys", [], 0));
                    continue;
                }

                // Flush early: leave the generation, flush it, and count the record in the fresh one.
                _writer.EndBatch();
                EarlyFlushes++;
                _flushed.Add(aggregator.Flush());
                _writer.BeginBatch();
                if (_writer.Add(in record) != AddStatus.Added)
                {
                    throw new InvalidOperationException("a fresh aggregate generation refused a key");
                }

                Accepted++;
            }

            _writer.EndBatch();
        }

        public void FlushInto() => _flushed.Add(aggregator.Flush());

        public List<AggregateRow> MergedRows()
        {
            if (_flushed.Count == 1)
            {
                return _flushed[0];
            }

            var merged = new Dictionary<(int, int, uint, int), AggregateRow>();
            foreach (var rows in _flushed)
            {
                foreach (var r in rows)
                {
                    var key = (r.AccountId, r.SkuId, r.WindowIndex, r.DimensionSetId);
                    merged[key] = merged.TryGetValue(key, out var m)
                        ? m with
                        {
                            Count = m.Count + r.Count,
                            SumNanos = m.SumNanos + r.SumNanos,
                            MinNanos = Math.Min(m.MinNanos, r.MinNanos),
                            MaxNanos = Math.Max(m.MaxNanos, r.MaxNanos),
                            FirstTicks = Math.Min(m.FirstTicks, r.FirstTicks),
                            LastTicks = Math.Max(m.LastTicks, r.LastTicks),
                        }
                        : r;
                }
            }

            return [.. merged.Values];
        }
    }
}
