using System.Runtime.InteropServices;

namespace Metering.Aggregates.Aggregation;

/// <summary>
/// One aggregate key and its running values, exactly one 64-byte cache line. Updated in place with
/// <see cref="Interlocked"/> operations only. The sum is 128-bit: <see cref="SumLow"/> takes each quantity with a
/// wrapping add and the carry goes to <see cref="SumHigh"/>, so the exact sum is <c>SumHigh * 2^64 + (ulong)SumLow</c>
/// once writers have left. Each quantity is below 2^63 and the count below 2^63, so the true sum stays below
/// 2^126: the 128-bit value cannot wrap.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct AggregateSlot
{
    /// <summary>account id (high 32 bits) and SKU id (low 32). 0 = empty; bit 63 set = being claimed.</summary>
    [FieldOffset(0)] public long KeyA;

    /// <summary>window index (high 32 bits) and dimension-set id (low 32).</summary>
    [FieldOffset(8)] public long KeyB;

    [FieldOffset(16)] public long Count;
    [FieldOffset(24)] public long SumLow;
    [FieldOffset(32)] public long SumHigh;
    [FieldOffset(40)] public long Min;
    [FieldOffset(48)] public long Max;

    /// <summary>Earliest event time in the window, in microseconds after the window start.</summary>
    [FieldOffset(56)] public uint FirstMicros;

    /// <summary>Latest event time in the window, in microseconds after the window start.</summary>
    [FieldOffset(60)] public uint LastMicros;
}
