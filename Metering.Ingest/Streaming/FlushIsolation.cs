using Metering.Aggregates.Records;
using Metering.Ledger.Flush;

namespace Metering.Ingest.Streaming;

/// <summary>
/// Isolates the records behind a flush that failed on a data fault (<see cref="FlushFaultKind.Data"/>), so no single
/// record can make flushing fail: aggregates cannot be split back into records, offsets can. On a data fault the
/// engine discards everything unflushed and rewinds to PostgreSQL's offsets (as after a fence) and re-consumes with at
/// most <see cref="Cap"/> records per flush. Each further data fault divides the cap by 8; each committed capped flush
/// doubles it again (up to the cap isolation started with), so the good records around a bad one go on committing in
/// growing batches. When a flush of ONE record fails, that record is dead-lettered as <c>ledger_rejected</c> with the
/// database's error as detail and its raw bytes, in a flush of its own that moves its partition past it (read 1 =
/// rejected 1). Once every still-assigned partition has committed past the end offsets of the failed batches, the
/// engine returns to normal batching.
/// </summary>
/// <remarks>
/// A data fault in a flush that holds no record (only offsets or gaps), or in the dead-letter flush itself, is not
/// tied to a record: isolation cannot help and the engine stops with the error. Used from the engine's thread only.
/// </remarks>
internal sealed class FlushIsolation(string topic)
{
    private readonly Dictionary<int, long> _endOffsets = [];
    private readonly Dictionary<int, long> _committed = [];
    private readonly Dictionary<(int Partition, long Offset), byte[]> _raw = [];
    private FlushBatch? _deadLetterBatch;
    private int _startCap;
    private long _episodeFaults;
    private long _episodeIsolated;

    /// <summary>True while flushes are capped (between a data fault and the end of the failed batches).</summary>
    public bool Active { get; private set; }

    /// <summary>Most records per flush while <see cref="Active"/>.</summary>
    public int Cap { get; private set; } = int.MaxValue;

    /// <summary>Flushes that failed on a data fault since start.</summary>
    public long DataFaults { get; private set; }

    /// <summary>Records dead-lettered as <c>ledger_rejected</c> since start.</summary>
    public long Isolated { get; private set; }

    /// <summary>Remembers a record consumed while isolating, so it can be dead-lettered with its raw bytes.</summary>
    public void Track(int partition, long offset, byte[] raw) => _raw[(partition, offset)] = raw;

    /// <summary>
    /// A flush of <paramref name="batch"/> failed with the data fault <paramref name="fault"/>. Returns the flush that
    /// dead-letters its one record when it held exactly one tracked record; otherwise null after lowering the cap
    /// (the caller discards and rewinds in both cases; the returned batch is committed first).
    /// </summary>
    public FlushBatch? OnDataFault(FlushBatch batch, Exception fault)
    {
        DataFaults++;
        _episodeFaults++;
        Observability.MeteringMetrics.FlushDataFault();
        var read = batch.Partitions.Sum(p => p.Read);
        if (ReferenceEquals(batch, _deadLetterBatch) || read == 0)
        {
            throw new InvalidOperationException(
                $"a flush holding no usage record ({(read == 0 ? "offsets and gaps only" : "a ledger_rejected dead letter")}) failed on a data fault, so it is not tied to a record and isolating records cannot help: {FlushFaults.Describe(fault)}",
                fault);
        }

        foreach (var p in batch.Partitions)
        {
            _endOffsets[p.Partition] = Math.Max(_endOffsets.GetValueOrDefault(p.Partition, long.MinValue), p.NextOffset);
            _committed.TryAdd(p.Partition, p.StartOffset);
        }

        if (!Active)
        {
            Active = true;
            _startCap = (int)Math.Clamp(read / 8, 1, int.MaxValue);
            Cap = _startCap;
            Console.Error.WriteLine($"ISOLATION: a flush of {read:N0} records failed on a data fault ({FlushFaults.Describe(fault)}); re-consuming {topic} from PostgreSQL's offsets with at most {Cap:N0} records per flush to find the records the ledger refuses");
            return null;
        }

        if (read == 1)
        {
            var one = batch.Partitions.Single(p => p.Read == 1);
            if (_raw.TryGetValue((one.Partition, one.NextOffset - 1), out var raw))
            {
                _deadLetterBatch = DeadLetter(batch, one, raw, fault);
                return _deadLetterBatch;
            }
        }

        Cap = (int)Math.Clamp(Math.Min(Cap, read) / 8, 1, int.MaxValue);
        return null;
    }

    /// <summary>
    /// <paramref name="batch"/> committed. Forgets its records, grows the cap, and ends isolation once every partition
    /// in <paramref name="assigned"/> has committed past the failed batches' end offsets.
    /// </summary>
    public void OnCommitted(FlushBatch batch, IEnumerable<int> assigned)
    {
        if (!Active)
        {
            return;
        }

        foreach (var p in batch.Partitions)
        {
            _committed[p.Partition] = p.NextOffset;
        }

        if (_raw.Count > 0)
        {
            foreach (var key in _raw.Keys.Where(k => k.Offset < _committed.GetValueOrDefault(k.Partition, long.MinValue)).ToList())
            {
                _raw.Remove(key);
            }
        }

        if (ReferenceEquals(batch, _deadLetterBatch))
        {
            _deadLetterBatch = null;
            Isolated++;
            _episodeIsolated++;
            Observability.MeteringMetrics.RecordsIsolated(1);
            Observability.MeteringMetrics.RecordsRejected(1, RejectReason.LedgerRejected.Code());
        }
        else
        {
            Cap = (int)Math.Min(_startCap, (long)Cap * 2);
        }

        foreach (var partition in assigned)
        {
            if (_endOffsets.TryGetValue(partition, out var end) && _committed.GetValueOrDefault(partition, long.MinValue) < end)
            {
                return;
            }
        }

        Console.Error.WriteLine($"ISOLATION: ended; {topic} is past the failed batches: {_episodeIsolated:N0} record(s) dead-lettered as ledger_rejected after {_episodeFaults:N0} data fault(s); normal batching resumes");
        Active = false;
        Cap = int.MaxValue;
        _endOffsets.Clear();
        _committed.Clear();
        _raw.Clear();
        _episodeFaults = _episodeIsolated = 0;
    }

    /// <summary>The flush that books <paramref name="one"/>'s single record as rejected and moves its partition past it.</summary>
    private static FlushBatch DeadLetter(FlushBatch failed, PartitionProgress one, byte[] raw, Exception fault)
    {
        var partitions = failed.Partitions.Select(p => new PartitionProgress
        {
            Partition = p.Partition, StartOffset = p.StartOffset, NextOffset = p.NextOffset, Read = p.Read,
            Rejected = p.Read, Gaps = [.. p.Gaps],
        }).ToList();
        var detail = "the ledger refused this record's data: " + FlushFaults.Describe(fault);
        return new FlushBatch
        {
            Rows = [],
            Partitions = partitions,
            DeadLetters = [new KafkaDeadLetter(one.Partition, one.NextOffset - 1, RejectReason.LedgerRejected.Code(), detail, raw)],
            SeenIds = [],
        };
    }
}
