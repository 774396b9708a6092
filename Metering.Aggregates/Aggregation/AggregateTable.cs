using System.Numerics;
using System.Runtime.CompilerServices;
using Metering.Aggregates.Memory;

namespace Metering.Aggregates.Aggregation;

/// <summary>
/// A fixed-capacity, lock-free open-addressing hash table of <see cref="AggregateSlot"/>s (linear probing).
/// Any number of threads may call <see cref="Add"/> at once; no update is lost (every field is updated with an
/// atomic instruction). Inserting a key claims an empty slot with a compare-and-swap, writes the rest of the key
/// and publishes it; a reader meeting a slot being claimed spins for those few instructions. Keys are never
/// removed; <see cref="Drain"/> runs only when no writer is inside (see <see cref="Aggregator"/>).
/// </summary>
internal sealed class AggregateTable
{
    private const long ClaimBit = long.MinValue;
    private readonly AggregateSlot[] _slots;
    private readonly long _keyLimit;
    private long _keyCount;

    // Indexes of the claimed slots, in claim order: a drain visits only these instead of scanning every slot (the
    // table is sized for the key limit, e.g. 320 MB for 4 M keys, while a flush typically holds a few percent of it).
    private readonly int[] _claimed;
    private int _claimedCount;

    public AggregateTable(int keyLimit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keyLimit, 1);
        _keyLimit = keyLimit;
        // Load factor at most 0.8 keeps linear probes short; capacity need not be a power of two (fastrange).
        _slots = HugePageArray.Allocate<AggregateSlot>((int)Math.Min(Array.MaxLength, (keyLimit * 5L / 4) + 16));
        _claimed = new int[keyLimit]; // successful claims never exceed the limit (TryReserveKey)
    }

    /// <summary>Active keys.</summary>
    public long KeyCount => Volatile.Read(ref _keyCount);

    /// <summary>Slots allocated.</summary>
    public int Capacity => _slots.Length;

    /// <summary>Bytes held by the slot array.</summary>
    public long MemoryBytes => ((long)_slots.Length * Unsafe.SizeOf<AggregateSlot>()) + ((long)_claimed.Length * sizeof(int));

    /// <summary>Adds one record's quantity to the key; lock-free, allocation-free.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public AddStatus Add(int accountId, int skuId, uint window, int dimensionSetId, long nanos, uint offsetMicros)
    {
        var keyA = ((long)accountId << 32) | (uint)skuId;
        var keyB = ((long)window << 32) | (uint)dimensionSetId;
        var slots = _slots;
        var i = IndexOf(keyA, keyB, slots.Length);
        while (true)
        {
            ref var slot = ref slots[i];
            var a = Volatile.Read(ref slot.KeyA);
            if (a == keyA && slot.KeyB == keyB)
            {
                Update(ref slot, nanos, offsetMicros);
                return AddStatus.Added;
            }

            if (a == 0)
            {
                if (!TryReserveKey())
                {
                    return AddStatus.KeyLimitReached;
                }

                if (Interlocked.CompareExchange(ref slot.KeyA, keyA | ClaimBit, 0) == 0)
                {
                    slot.KeyB = keyB;
                    slot.Min = long.MaxValue;
                    slot.Max = long.MinValue;
                    slot.FirstMicros = uint.MaxValue;
                    _claimed[Interlocked.Increment(ref _claimedCount) - 1] = i;
                    Volatile.Write(ref slot.KeyA, keyA); // release: the key and initial values become visible together
                    Update(ref slot, nanos, offsetMicros);
                    return AddStatus.Added;
                }

                Interlocked.Decrement(ref _keyCount); // lost the race for this slot; look at it again
                continue;
            }

            if (a < 0)
            {
                // Another writer is between claiming and publishing this slot: a handful of stores.
                var spin = default(SpinWait);
                while (Volatile.Read(ref slot.KeyA) < 0)
                {
                    spin.SpinOnce();
                }

                continue;
            }

            if (++i == slots.Length)
            {
                i = 0;
            }
        }
    }

    /// <summary>Hints the CPU to load the slot a key probes first (see <see cref="Dedup.DedupHorizon.Prefetch"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Prefetch(int accountId, int skuId, uint window, int dimensionSetId)
    {
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            var keyA = ((long)accountId << 32) | (uint)skuId;
            var keyB = ((long)window << 32) | (uint)dimensionSetId;
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(Unsafe.AsPointer(ref _slots[IndexOf(keyA, keyB, _slots.Length)]));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(ref AggregateSlot slot, long nanos, uint offsetMicros)
    {
        Interlocked.Increment(ref slot.Count);
        if (nanos != 0)
        {
            var low = (ulong)Interlocked.Add(ref slot.SumLow, nanos);
            if (low < (ulong)nanos)
            {
                Interlocked.Increment(ref slot.SumHigh); // the 64-bit add wrapped: carry
            }
        }

        // Compare-and-swap loops only run when the value improves; on a steady stream they are a read.
        LowerTo(ref slot.Min, nanos);
        RaiseTo(ref slot.Max, nanos);
        LowerTo(ref slot.FirstMicros, offsetMicros);
        RaiseTo(ref slot.LastMicros, offsetMicros);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LowerTo<T>(ref T location, T value)
        where T : unmanaged, IBinaryInteger<T>
    {
        var current = location; // a stale read only costs one more compare-and-swap round
        while (value < current)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RaiseTo<T>(ref T location, T value)
        where T : unmanaged, IBinaryInteger<T>
    {
        var current = location; // a stale read only costs one more compare-and-swap round
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private bool TryReserveKey()
    {
        if (Interlocked.Increment(ref _keyCount) <= _keyLimit)
        {
            return true;
        }

        Interlocked.Decrement(ref _keyCount);
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int IndexOf(long keyA, long keyB, int capacity)
    {
        var h = ((ulong)keyA * 0x9E3779B97F4A7C15UL) ^ ((ulong)keyB * 0xC2B2AE3D27D4EB4FUL);
        h ^= h >> 31;
        h *= 0xBF58476D1CE4E5B9UL;
        h ^= h >> 29;
        return (int)Math.BigMul(h, (ulong)capacity, out _); // fastrange: uniform index without a modulo
    }

    /// <summary>Appends every key's values to <paramref name="rows"/> and empties the table. Caller guarantees no writer is inside.</summary>
    public void Drain(List<AggregateRow> rows, TumblingWindows windows)
    {
        var slots = _slots;
        var claimed = _claimed.AsSpan(0, Volatile.Read(ref _claimedCount));
        foreach (var i in claimed)
        {
            ref var s = ref slots[i];

            var window = (uint)((ulong)s.KeyB >> 32);
            var start = windows.StartTicks(window);
            var sum = ((Int128)s.SumHigh << 64) + (ulong)s.SumLow;
            rows.Add(new AggregateRow(
                (int)(s.KeyA >> 32), (int)s.KeyA, window, (int)s.KeyB, s.Count, sum, s.Min, s.Max,
                start + (s.FirstMicros * 10L), start + (s.LastMicros * 10L)));
            s = default;
        }

        Volatile.Write(ref _claimedCount, 0);
        Volatile.Write(ref _keyCount, 0);
    }
}
