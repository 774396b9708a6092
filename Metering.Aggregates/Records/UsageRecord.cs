namespace Metering.Aggregates.Records;

/// <summary>
/// One decoded usage record, with its strings already interned to process-wide ids so the aggregation hot path
/// works on integers only. Produced by <see cref="Decoding.UsageRecordParser"/>.
/// </summary>
public struct UsageRecord
{
    /// <summary>Interned account id (1-based; see <see cref="Interning.ByteStringInterner"/>).</summary>
    public int AccountId;

    /// <summary>Interned SKU id (1-based).</summary>
    public int SkuId;

    /// <summary>Interned id of the kept dimensions of this record's SKU (0 = none kept).</summary>
    public int DimensionSetId;

    /// <summary>Quantity in nano-units (10^-9): exact, never negative, at most <see cref="FixedPoint.MaxRecordNanos"/>.</summary>
    public long QuantityNanos;

    /// <summary>Event time as UTC <see cref="DateTime.Ticks"/> (100 ns resolution; finer digits are truncated).</summary>
    public long TimeTicks;

    /// <summary>128-bit fingerprint of (account, id): the idempotency key used for dedup. Stable across processes.</summary>
    public UInt128 Fingerprint;

    /// <summary>
    /// Digest of the billed payload (<see cref="Dedup.PayloadDigest"/>): a record with this <see cref="Fingerprint"/>
    /// and another digest is a conflict, not a duplicate. Never <see cref="Dedup.PayloadDigest.None"/> once parsed.
    /// </summary>
    public ulong PayloadDigest;

    /// <summary>1-based line number in the input stream (diagnostics).</summary>
    public long LineNumber;
}
