using Confluent.Kafka;
using Metering.Ledger.Flush;

namespace Metering.Ingest.Streaming;

/// <summary>The engine's partitions: rebalance callbacks, rewinds to PostgreSQL's offsets, lost offsets and gaps.</summary>
public sealed partial class StreamingEngine
{
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

    /// <summary>
    /// Voids everything unflushed (after a fence, a data fault, lost partitions) and seeks every partition back to the
    /// offsets PostgreSQL holds; the aggregator's writer is closed around the drain and reopened for what comes next.
    /// </summary>
    private void DiscardAndRewind()
    {
        _writer.EndBatch();
        try
        {
            Rewind();
        }
        finally
        {
            _writer.BeginBatch();
        }
    }

    private void Rewind()
    {
        _rewinds++;
        _ = _aggregator.Flush(); // drop the unflushed aggregates
        _transactions.Clear();
        _ledger.ForgetTotals(); // another member may have committed our totals: read them from PostgreSQL again
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
        _ledger.ForgetTotals(); // the partitions' previous owner wrote the totals of their accounts
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
        Stages.MarkAssigned();
        return positions;
    }

    private void OnRevoked(List<TopicPartitionOffset> revoked)
    {
        ProcessChunk();
        Flush(); // what we consumed from them becomes durable before another member takes over
        _ledger.ForgetTotals(); // from here on the new owner writes their accounts' totals
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

        DiscardAndRewind();
    }

    private async Task ReloadDedupAsync(CancellationToken cancellationToken)
    {
        _dedup = await _ledger.LoadDedupAsync(_options.Pipeline.DedupHorizon, _options.Pipeline.DedupMaxEntries, cancellationToken).ConfigureAwait(false);
        _late.Reset(); // the late ids not committed were discarded with the rest: PostgreSQL's blocks are the truth again
    }
}
