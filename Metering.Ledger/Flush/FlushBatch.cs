using Metering.Aggregates.Aggregation;
using Metering.Ledger.Totals;

namespace Metering.Ledger.Flush;

/// <summary>Everything one flush makes durable, in one PostgreSQL transaction.</summary>
public sealed class FlushBatch
{
    /// <summary>Aggregate rows drained from the aggregator.</summary>
    public required IReadOnlyList<AggregateRow> Rows { get; init; }

    /// <summary>The catalog the rows' account, SKU and dimension-set ids refer to (the engine renews its catalog).</summary>
    public Metering.Aggregates.Interning.RecordCatalog? Catalog { get; init; }

    /// <summary>
    /// The accepted records of SKUs a price rates per transaction or a record meter measures, one by one (they are in
    /// <see cref="Rows"/> too): the rater needs each one's amount and place in the period, the meter its own reading.
    /// Empty for every other SKU.
    /// </summary>
    public IReadOnlyList<KeptTransaction> Transactions { get; init; } = [];

    /// <summary>
    /// What latest and unique_count meters read of their <see cref="Transactions"/> beyond time and quantity (event ids,
    /// value fingerprints), indexed by <see cref="KeptTransaction.MeterInput"/> - 1.
    /// </summary>
    public IReadOnlyList<KeptMeterInput> MeterInputs { get; init; } = [];

    /// <summary>Per-partition offsets and counters.</summary>
    public required IReadOnlyList<PartitionProgress> Partitions { get; init; }

    /// <summary>Rejected records.</summary>
    public required IReadOnlyList<KafkaDeadLetter> DeadLetters { get; init; }

    /// <summary>Ids first seen in this batch (fingerprint, payload digest, event time), persisted for the dedup horizon.</summary>
    public required IReadOnlyList<Metering.Aggregates.Dedup.SeenId> SeenIds { get; init; }

    /// <summary>
    /// Filled by the ledger writer inside the flush transaction: every billing-period total this batch moved, before
    /// and after (quota checks in the transaction; live counters after the commit). Rewritten on a retried attempt.
    /// </summary>
    public List<TotalChange> TotalChanges { get; } = [];
}
