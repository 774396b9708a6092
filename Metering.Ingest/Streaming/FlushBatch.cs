using Metering.Aggregates.Aggregation;

namespace Metering.Ingest.Streaming;

/// <summary>What one partition contributed since its last durable flush.</summary>
public sealed class PartitionProgress
{
    /// <summary>Partition number.</summary>
    public required int Partition { get; init; }

    /// <summary>The offset this batch started from (what PostgreSQL must still hold as next_offset: the fence).</summary>
    public required long StartOffset { get; set; }

    /// <summary>The next offset to consume after this batch.</summary>
    public long NextOffset { get; set; }

    /// <summary>Records read.</summary>
    public long Read { get; set; }

    /// <summary>Records accepted (aggregated).</summary>
    public long Accepted { get; set; }

    /// <summary>Duplicates.</summary>
    public long Duplicates { get; set; }

    /// <summary>Rejected records.</summary>
    public long Rejected { get; set; }

    /// <summary>Accepted quantity, nano-units.</summary>
    public Int128 AcceptedNanos { get; set; }

    /// <summary>Offset ranges the broker deleted before they were read (data loss, recorded in offset_gaps).</summary>
    public List<OffsetGap> Gaps { get; init; } = [];

    /// <summary>Starts the next batch at <see cref="NextOffset"/> with zero counters.</summary>
    public void Reset()
    {
        Gaps.Clear();
        StartOffset = NextOffset;
        Read = Accepted = Duplicates = Rejected = 0;
        AcceptedNanos = 0;
    }
}

/// <summary>Offsets [<paramref name="From"/>, <paramref name="To"/>) of a partition that the broker no longer had.</summary>
public sealed record OffsetGap(int Partition, long From, long To);

/// <summary>A dead letter from Kafka, written in the flush transaction.</summary>
public sealed record KafkaDeadLetter(int Partition, long Offset, string Reason, string Detail, byte[] Raw);

/// <summary>Everything one flush makes durable, in one PostgreSQL transaction.</summary>
public sealed class FlushBatch
{
    /// <summary>Aggregate rows drained from the aggregator.</summary>
    public required IReadOnlyList<AggregateRow> Rows { get; init; }

    /// <summary>The catalog the rows' account, SKU and dimension-set ids refer to (the engine renews its catalog).</summary>
    public Metering.Aggregates.Interning.RecordCatalog? Catalog { get; init; }

    /// <summary>Per-partition offsets and counters.</summary>
    public required IReadOnlyList<PartitionProgress> Partitions { get; init; }

    /// <summary>Rejected records.</summary>
    public required IReadOnlyList<KafkaDeadLetter> DeadLetters { get; init; }

    /// <summary>Ids first seen in this batch (fingerprint, event time), persisted for the dedup horizon.</summary>
    public required IReadOnlyList<(UInt128 Fingerprint, long TimeTicks)> SeenIds { get; init; }

    /// <summary>
    /// Filled by the ledger writer inside the flush transaction: every billing-period total this batch moved, before
    /// and after (quota checks in the transaction; live counters after the commit). Rewritten on a retried attempt.
    /// </summary>
    public List<TotalChange> TotalChanges { get; } = [];
}

/// <summary>
/// One billing-period total as a flush moved it: cumulative quantity, record count and charged amount before and
/// after. Late usage for a closed period is not a change of its total (it becomes an adjustment) and is not listed.
/// </summary>
public sealed record TotalChange(
    string Account, string Sku, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, string Currency,
    decimal QuantityBefore, decimal QuantityAfter, long CountBefore, long CountAfter, decimal AmountBefore, decimal AmountAfter);
