using Metering.Aggregates.Records;

namespace Metering.Aggregates.Aggregation;

/// <summary>
/// One thread's handle for adding records: call <see cref="BeginBatch"/>, <see cref="Add"/> any number of times,
/// then <see cref="EndBatch"/>. Not thread-safe: one writer per thread.
/// </summary>
public sealed class AggregateWriter
{
    private readonly Aggregator _owner;
    private readonly TumblingWindows _windows;
    private AggregateTable? _active;

    internal AggregateWriter(Aggregator owner)
    {
        _owner = owner;
        _windows = owner.Windows;
    }

    internal AggregateTable? ActiveTable => Volatile.Read(ref _active);

    /// <summary>Enters the current generation for a batch of adds.</summary>
    public void BeginBatch()
    {
        while (true)
        {
            var table = _owner.Current;
            Interlocked.Exchange(ref _active, table); // full fence before re-checking the generation
            if (ReferenceEquals(_owner.Current, table))
            {
                return;
            }
        }
    }

    /// <summary>Leaves the generation; a pending flush may now drain it.</summary>
    public void EndBatch() => Volatile.Write(ref _active, null);

    /// <summary>Prefetches the slot <paramref name="record"/> will update; call a few records ahead of <see cref="Add"/>.</summary>
    public void Prefetch(in UsageRecord record) =>
        _active?.Prefetch(record.AccountId, record.SkuId, _windows.IndexOf(record.TimeTicks), record.DimensionSetId);

    /// <summary>Adds one record. Returns <see cref="AddStatus.KeyLimitReached"/> when its new key does not fit.</summary>
    public AddStatus Add(in UsageRecord record)
    {
        var table = _active ?? throw new InvalidOperationException("call BeginBatch before Add");
        var window = _windows.IndexOf(record.TimeTicks);
        var offsetMicros = (uint)((record.TimeTicks - _windows.StartTicks(window)) / 10);
        var status = table.Add(record.AccountId, record.SkuId, window, record.DimensionSetId, record.QuantityNanos, offsetMicros);
        if (status != AddStatus.Added)
        {
            _owner.RecordKeyLimitHit();
        }

        return status;
    }
}
