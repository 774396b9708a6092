
namespace Metering.Aggregates.Aggregation;

/// <summary>
/// Lock-free aggregates keyed by (account, SKU, window, kept dimensions), in two generations.
/// Writers (one <see cref="AggregateWriter"/> per thread) add to the current generation without locks.
/// <see cref="Flush"/> swaps in the other generation, waits until every writer has left the old one (writers
/// enter and leave once per batch, so the wait is at most one batch), then drains it. Ingestion never stops, and
/// every update lands in exactly one flush: it is either complete in the old generation before the drain, or
/// made in the new one. Flushes are serialized with each other.
/// </summary>
public sealed class Aggregator
{
    private readonly Lock _flushGate = new();
    private readonly List<AggregateWriter> _writers = [];
    private AggregateTable _current;
    private AggregateTable? _spare;
    private long _keyLimitHits;
    private long _flushes;

    /// <summary>Creates an aggregator; throws naming the setting when one is out of range.</summary>
    public Aggregator(AggregatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        Windows = new TumblingWindows(options.WindowLength);
        _current = new AggregateTable(options.KeyLimit);
    }

    /// <summary>The settings.</summary>
    public AggregatorOptions Options { get; }

    /// <summary>The windows records are assigned to.</summary>
    public TumblingWindows Windows { get; }

    /// <summary>Keys active in the current generation.</summary>
    public long ActiveKeys => Volatile.Read(ref _current).KeyCount;

    /// <summary>Updates that met the key limit (each was then flushed early or rejected, per the policy).</summary>
    public long KeyLimitHits => Volatile.Read(ref _keyLimitHits);

    /// <summary>Flushes done.</summary>
    public long Flushes => Volatile.Read(ref _flushes);

    /// <summary>Bytes held by one generation's table.</summary>
    public long GenerationMemoryBytes => Volatile.Read(ref _current).MemoryBytes;

    /// <summary>Bytes of table per allowed key (the slot is 64 bytes; the rest is probing headroom).</summary>
    public double BytesPerKeyAtLimit => (double)GenerationMemoryBytes / Options.KeyLimit;

    internal AggregateTable Current => Volatile.Read(ref _current);

    /// <summary>Registers a writer for one thread.</summary>
    public AggregateWriter CreateWriter()
    {
        var writer = new AggregateWriter(this);
        lock (_flushGate)
        {
            _writers.Add(writer);
        }

        return writer;
    }

    internal void RecordKeyLimitHit() => Interlocked.Increment(ref _keyLimitHits);

    /// <summary>
    /// Returns every key of the current generation without swapping in a fresh one: for a run's last flush, when no
    /// writer will add again (a fresh generation would be a table sized for the key limit, allocated and faulted in
    /// for nothing). Must not be called while a writer is inside a batch; the aggregator is not to be written after.
    /// </summary>
    public List<AggregateRow> FlushLast()
    {
        lock (_flushGate)
        {
            var last = _current;
            var rows = new List<AggregateRow>((int)last.KeyCount);
            last.Drain(rows, Windows);
            Interlocked.Increment(ref _flushes);
            return rows;
        }
    }

    /// <summary>
    /// Swaps generations and returns every key of the old one. Safe to call while writers are adding; must not be
    /// called by a thread that is inside a batch (it would wait for itself).
    /// </summary>
    public List<AggregateRow> Flush()
    {
        lock (_flushGate)
        {
            var old = _current;
            var fresh = _spare ?? new AggregateTable(Options.KeyLimit);
            Interlocked.Exchange(ref _current, fresh); // full fence: writers entering from now on see 'fresh'
            foreach (var writer in _writers)
            {
                var spin = default(SpinWait);
                while (ReferenceEquals(writer.ActiveTable, old))
                {
                    spin.SpinOnce();
                }
            }

            // Writers have left: the count is exact, so the list never regrows (a regrowth past a million rows copied
            // them and touched twice their memory afresh).
            var rows = new List<AggregateRow>((int)old.KeyCount);
            old.Drain(rows, Windows);
            _spare = old;
            Interlocked.Increment(ref _flushes);
            return rows;
        }
    }
}
