using System.Runtime.InteropServices;

namespace Metering.Ledger.Flush;

/// <summary>
/// One accepted record of a SKU whose price is rated per transaction or metered from single records, as the engine took
/// it in: the ids of its aggregate key (in the batch's catalog), its event time (<see cref="DateTime.Ticks"/>, UTC), its
/// dedup fingerprint and its quantity in nano-units; for a latest or unique_count meter also, by <see cref="MeterInput"/>,
/// what the meter reads beyond those.
/// </summary>
/// <remarks>
/// Auto layout packs it into 48 bytes (the declared order pads it to 64), <see cref="MeterInput"/> included: the records
/// of every other kept SKU (per-transaction prices, time_weighted, percentile) cost no more than before latest and
/// unique_count, and only theirs carry a <see cref="KeptMeterInput"/>.
/// </remarks>
[StructLayout(LayoutKind.Auto)]
public readonly record struct KeptTransaction(int AccountId, int SkuId, int DimensionSetId, long TimeTicks, UInt128 Fingerprint, long QuantityNanos)
{
    /// <summary>1-based index of the record's <see cref="KeptMeterInput"/> in <see cref="FlushBatch.MeterInputs"/>; 0 when it has none.</summary>
    public int MeterInput { get; init; }
}

/// <summary>What a latest or unique_count meter reads of a <see cref="KeptTransaction"/> beyond its time and quantity.</summary>
/// <param name="Kind">Which of the other fields the engine read.</param>
/// <param name="EventId">
/// <see cref="KeptMeterInputKind.EventId"/>: the record's event id as UTF-8 after JSON unescaping (1 to 128 bytes; latest
/// breaks a tie on the event time by it). Points into a buffer the engine does not reuse.
/// </param>
/// <param name="ValueFingerprint">
/// <see cref="KeptMeterInputKind.Value"/>: the XXH128 fingerprint of the value of dimension <paramref name="Field"/>
/// (<c>UniqueCountState.Fingerprint</c>), whether the aggregate key keeps that dimension or not.
/// </param>
/// <param name="Field">
/// <see cref="KeptMeterInputKind.Value"/> and <see cref="KeptMeterInputKind.MissingValue"/>: the dimension key the engine
/// read (the unique_count meter's <c>field</c> without <c>dimensions.</c>), so a flush never counts another key's values.
/// </param>
public readonly record struct KeptMeterInput(KeptMeterInputKind Kind, ReadOnlyMemory<byte> EventId, UInt128 ValueFingerprint, string? Field);

/// <summary>What a <see cref="KeptMeterInput"/> carries.</summary>
public enum KeptMeterInputKind : byte
{
    /// <summary>Nothing (no record carries this).</summary>
    None,

    /// <summary>The event id (a latest meter).</summary>
    EventId,

    /// <summary>The fingerprint of the <see cref="KeptMeterInput.Field"/> dimension's value (a unique_count meter).</summary>
    Value,

    /// <summary>The record has no <see cref="KeptMeterInput.Field"/> dimension (a unique_count meter counts it apart).</summary>
    MissingValue,
}
