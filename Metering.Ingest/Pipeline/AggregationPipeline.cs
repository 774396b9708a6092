using System.Runtime.CompilerServices;
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
/// Stream -> decode -> dedup -> aggregate: the caller's task reads and frames lines (System.IO.Pipelines,
/// <see cref="ChunkFramer"/>), several threads decode chunks of lines by the one admission rule at once
/// (<see cref="ChunkDecoder"/>), and a dedicated thread takes the chunks back in input order, checks each record
/// against the <see cref="DedupHorizon"/> and adds it to the <see cref="Aggregator"/>. Rejected records go to the
/// <see cref="DeadLetterWriter"/> in line order. At the end the aggregates are flushed and merged. The results,
/// dead letters included, are those of one sequential pass, byte for byte, whatever the number of decoding threads.
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
    public long ReadSoFar => Volatile.Read(ref _counters.Read);

    private readonly DecodeCounters _counters = new();

    /// <summary>Runs over <paramref name="input"/> to its end.</summary>
    /// <remarks>
    /// Three kinds of thread: the caller's task reads and frames lines into chunks (<see cref="ChunkFramer"/>),
    /// <see cref="AggregationPipelineOptions.DecodeThreads"/> threads decode whole chunks at once
    /// (<see cref="ChunkDecoder"/>), and one thread dedups and aggregates the chunks strictly in input order, waiting
    /// for the next one when it is not decoded yet. So every order-dependent verdict is the one of a single pass
    /// over the file: the first record of an id by file position wins, and a later copy is the duplicate or the
    /// conflict; the dedup watermark, lateness and the key limit's early flushes advance record by record in file
    /// order; dead letters are written in line order. Decoding is order-free except for one thing, the
    /// catalog's cardinality limits: chunks decoded at once would race for the last ids. So a chunk is decoded
    /// alongside others only while the catalog has room for every record of every chunk in flight; closer to a
    /// limit, chunks are decoded one at a time in order, exactly as one decoder would (the interned ids themselves
    /// differ between runs, but no output shows them: aggregates are sorted by their strings).
    /// The file mode's own loops (framing, chunk decoding, this stage, the aggregates writer) are marked
    /// <see cref="MethodImplOptions.AggressiveOptimization"/>: a run lasts seconds, and with tiered compilation much
    /// of it ran in unoptimized or on-stack-replaced code while the JIT's thread took ~9 % of the CPU (perf).
    /// </remarks>
    public async Task<PipelineResult> RunAsync(Stream input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var stopwatch = Stopwatch.StartNew();
        var decodeThreads = _options.DecodeThreads;
        ArgumentOutOfRangeException.ThrowIfLessThan(decodeThreads, 1, nameof(AggregationPipelineOptions.DecodeThreads));
        var decoderOptions = _options.Decoder;
        var admissionOptions = _options.Admission(KnownSkus, Accounts);
        var maxLines = decoderOptions.BatchSize;
        var chunkBytes = Math.Max(1 << 20, decoderOptions.MaxLineBytes);
        using var free = new BlockingCollection<LineChunk>();
        for (var i = 0; i < (2 * decodeThreads) + 2; i++)
        {
            free.Add(new LineChunk(maxLines, chunkBytes), cancellationToken);
        }

        using var work = new BlockingCollection<LineChunk>();
        using var ordered = new BlockingCollection<LineChunk>();
        var inFlight = new InFlightBound(_catalog);
        var decoders = new Thread[decodeThreads];
        for (var i = 0; i < decodeThreads; i++)
        {
            var decoder = new ChunkDecoder(new RecordAdmission(_catalog, admissionOptions), _options.EventMapping);
            decoders[i] = new Thread(() => DecodeLoop(decoder, work, inFlight)) { Name = $"decode-{i}", IsBackground = true };
            decoders[i].Start();
        }

        var stage = new AggregateStage(Aggregator, new DedupHorizon(FileHorizon(_options), _options.DedupMaxEntries), _deadLetters, _options.Aggregator.OnKeyLimit, _counters);
        var aggregateThread = new Thread(() => stage.Run(ordered, free)) { Name = "aggregate", IsBackground = true };
        aggregateThread.Start();
        var framer = new ChunkFramer(decoderOptions, _options.EventMapping is not null, () => free.Take(cancellationToken), chunk =>
        {
            inFlight.Enter(chunk);
            ordered.Add(chunk);
            work.Add(chunk);
        });
        try
        {
            var reader = PipeReader.Create(input, new StreamPipeReaderOptions(bufferSize: 1 << 20, minimumReadSize: 1 << 18));
            await framer.FrameAsync(reader, cancellationToken).ConfigureAwait(false);
            await reader.CompleteAsync().ConfigureAwait(false);
        }
        finally
        {
            work.CompleteAdding();
            ordered.CompleteAdding();
            foreach (var thread in decoders)
            {
                thread.Join();
            }

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
        var rejected = (long[])_counters.RejectedByReason.Clone();
        rejected[(int)RejectReason.ExpiredTime] += stage.Expired;
        rejected[(int)RejectReason.Conflict] += stage.Conflicts;
        rejected[(int)RejectReason.AggregateKeyLimit] += stage.KeyLimitRejects;
        return new PipelineResult
        {
            Read = _counters.Read,
            Accepted = stage.Accepted,
            Duplicates = stage.Duplicates,
            RejectedByReason = rejected,
            Bytes = framer.Bytes,
            Elapsed = elapsed,
            DrainElapsed = elapsed - drainStart,
            Rows = rows,
            EarlyFlushes = stage.EarlyFlushes,
            DedupEntries = stage.Dedup.Count,
            DedupBytes = stage.Dedup.MemoryBytes,
            DedupEarlyEvictions = stage.Dedup.EarlyEvictions,
        };
    }

    private static void DecodeLoop(ChunkDecoder decoder, BlockingCollection<LineChunk> work, InFlightBound inFlight)
    {
        foreach (var chunk in work.GetConsumingEnumerable())
        {
            try
            {
                decoder.Decode(chunk);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                chunk.Failure = e; // the aggregating thread fails the run with it
            }
            finally
            {
                inFlight.Leave(chunk);
                chunk.MarkDecoded();
            }
        }
    }

    /// <summary>
    /// The most records the chunks being decoded can still intern, against the room left in the catalog: a chunk
    /// that could meet a cardinality limit waits until every earlier chunk is decoded (see <see cref="RunAsync"/>).
    /// </summary>
    private sealed class InFlightBound(RecordCatalog catalog)
    {
        private long _bound;

        private long Room => Math.Min(
            Math.Min(catalog.Accounts.MaxCount - catalog.Accounts.Count, catalog.Skus.MaxCount - catalog.Skus.Count),
            catalog.DimensionSets.MaxCount - catalog.DimensionSets.Count);

        public void Enter(LineChunk chunk)
        {
            if (Room < Volatile.Read(ref _bound) + chunk.RecordBound)
            {
                SpinWait.SpinUntil(() => Volatile.Read(ref _bound) == 0);
            }

            Interlocked.Add(ref _bound, chunk.RecordBound);
        }

        // Called before the chunk is marked decoded: after that the aggregating thread may recycle it.
        public void Leave(LineChunk chunk) => Interlocked.Add(ref _bound, -chunk.RecordBound);
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

    /// <summary>
    /// The file mode keeps the whole lateness window in memory (one pass, no durable store): the same rule as the
    /// engine, which keeps only the dedup horizon in memory and looks older ids up in PostgreSQL.
    /// </summary>
    private static TimeSpan FileHorizon(AggregationPipelineOptions options) =>
        options.MaxLateness > options.DedupHorizon ? options.MaxLateness : options.DedupHorizon;

    /// <summary>The aggregating thread: dedup then aggregate, in input order, one chunk per writer entry.</summary>
    private sealed class AggregateStage(Aggregator aggregator, DedupHorizon dedup, DeadLetterWriter deadLetters, KeyLimitPolicy policy, DecodeCounters counters)
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

        /// <summary>Takes the chunks in input order, each once decoded, and returns them to <paramref name="free"/>.</summary>
        public void Run(BlockingCollection<LineChunk> ordered, BlockingCollection<LineChunk> free)
        {
            foreach (var chunk in ordered.GetConsumingEnumerable())
            {
                chunk.WaitDecoded();
                try
                {
                    if (Failure is null)
                    {
                        Failure = chunk.Failure;
                    }

                    if (Failure is null)
                    {
                        Process(chunk);
                    }
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    Failure = e; // go on taking chunks so the framer is not blocked forever; the run fails with it
                }

                chunk.Reset();
                free.Add(chunk);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Process(LineChunk chunk)
        {
            for (var r = 0; r < chunk.Rejected.Length; r++)
            {
                counters.RejectedByReason[r] += chunk.Rejected[r];
            }

            // The decoder's dead letters are written in their place among the records' verdicts: line order.
            var letters = chunk.Letters;
            var nextLetter = 0;
            var items = chunk.Records;
            _writer.BeginBatch();
            const int PrefetchDistance = 8;
            var count = chunk.RecordCount;
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
                while (nextLetter < letters.Count && letters[nextLetter].LineNumber < record.LineNumber)
                {
                    deadLetters.Write(letters[nextLetter++]);
                }

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
            while (nextLetter < letters.Count)
            {
                deadLetters.Write(letters[nextLetter++]);
            }

            Volatile.Write(ref counters.Read, counters.Read + chunk.Read);
        }

        public void FlushInto() => _flushed.Add(aggregator.FlushLast());

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
