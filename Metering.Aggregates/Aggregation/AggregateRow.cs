namespace Metering.Aggregates.Aggregation;

/// <summary>
/// The flushed value of one aggregate key: (account, SKU, window, kept dimensions) and count, exact sum,
/// min, max, first and last event time. Ids resolve through the <see cref="Interning.RecordCatalog"/>.
/// </summary>
public readonly record struct AggregateRow(
    int AccountId,
    int SkuId,
    uint WindowIndex,
    int DimensionSetId,
    long Count,
    Int128 SumNanos,
    long MinNanos,
    long MaxNanos,
    long FirstTicks,
    long LastTicks);
