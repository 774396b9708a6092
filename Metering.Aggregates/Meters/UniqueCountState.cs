using System.Diagnostics.CodeAnalysis;
using System.IO.Hashing;
using System.Runtime.CompilerServices;

namespace Metering.Aggregates.Meters;

/// <summary>
/// The state of the unique_count meter for one key: the exact set of 128-bit fingerprints (XXH128) of the counted
/// dimension's values, bounded by <see cref="MaxDistinct"/>. A value beyond the bound is not kept: the state becomes
/// <see cref="IsOverBound"/> for good, and its count is not billed (docs/meters.md). The flag is exact too: a key is over
/// its bound exactly when its records hold more than <see cref="MaxDistinct"/> distinct values, whatever the split into
/// windows and flushes and the arrival order. Records without the dimension are counted in <see cref="MissingField"/>,
/// never as a value. Open addressing over a power-of-two table at most half full: <see cref="Add"/> allocates only when
/// the table doubles. One writer at a time.
/// </summary>
public sealed class UniqueCountState
{
    private const int InitialCapacity = 8;

    private UInt128[] _slots = new UInt128[InitialCapacity];
    private bool _hasZero; // the fingerprint 0 marks an empty slot, so that one value is kept here

    /// <summary>An empty set counting up to <paramref name="maxDistinct"/> values exactly.</summary>
    public UniqueCountState(int maxDistinct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDistinct, 1);
        MaxDistinct = maxDistinct;
    }

    /// <summary>The bound: distinct values kept exactly.</summary>
    public int MaxDistinct { get; }

    /// <summary>Distinct values kept (at most <see cref="MaxDistinct"/>).</summary>
    public int Count { get; private set; }

    /// <summary>True once a value beyond <see cref="MaxDistinct"/> arrived: the count is no longer the key's.</summary>
    public bool IsOverBound { get; private set; }

    /// <summary>Records without the counted dimension (not a value; shown, never billed).</summary>
    public long MissingField { get; private set; }

    /// <summary>Bytes the table holds in memory (16 per slot, at least twice the values).</summary>
    public long MemoryBytes => (long)_slots.Length * 16;

    /// <summary>The fingerprint of a dimension value: XXH128 of its UTF-8 bytes after JSON unescaping.</summary>
    public static UInt128 Fingerprint(ReadOnlySpan<byte> utf8Value) => XxHash128.HashToUInt128(utf8Value);

    /// <summary>Adds a value by its fingerprint; true when it was new. Over the bound, nothing is added.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Add(UInt128 fingerprint)
    {
        if (IsOverBound)
        {
            return false;
        }

        if (fingerprint == UInt128.Zero)
        {
            if (_hasZero)
            {
                return false;
            }

            if (!Reserve())
            {
                return false;
            }

            _hasZero = true;
            return true;
        }

        var slots = _slots;
        var mask = slots.Length - 1;
        var i = (int)(ulong)fingerprint & mask; // XXH128's bits are uniform: the low ones index the table
        while (true)
        {
            var s = slots[i];
            if (s == fingerprint)
            {
                return false;
            }

            if (s == UInt128.Zero)
            {
                if (!Reserve())
                {
                    return false;
                }

                if ((Count - (_hasZero ? 1 : 0)) * 2 > slots.Length)
                {
                    Grow();
                    Insert(_slots, fingerprint);
                }
                else
                {
                    slots[i] = fingerprint;
                }

                return true;
            }

            i = (i + 1) & mask;
        }
    }

    /// <summary>Counts a record that has no value of the counted dimension.</summary>
    public void AddMissingField() => MissingField++;

    /// <summary>Adds every value of <paramref name="other"/> (and its over-bound flag and missing-field count).</summary>
    public void Merge(UniqueCountState other)
    {
        ArgumentNullException.ThrowIfNull(other);
        MissingField += other.MissingField;
        if (other.IsOverBound)
        {
            IsOverBound = true;
        }

        if (other._hasZero)
        {
            Add(UInt128.Zero);
        }

        foreach (var f in other._slots)
        {
            if (f != UInt128.Zero)
            {
                Add(f);
            }
        }
    }

    /// <summary>True when the fingerprint is in the set.</summary>
    public bool Contains(UInt128 fingerprint)
    {
        if (fingerprint == UInt128.Zero)
        {
            return _hasZero;
        }

        var mask = _slots.Length - 1;
        for (var i = (int)(ulong)fingerprint & mask; ; i = (i + 1) & mask)
        {
            if (_slots[i] == fingerprint)
            {
                return true;
            }

            if (_slots[i] == UInt128.Zero)
            {
                return false;
            }
        }
    }

    /// <summary>Bytes of <see cref="WriteTo"/>: a small header and 16 per value.</summary>
    public int SerializedSize => 2 + MeterStateFormat.VarSize((ulong)MaxDistinct) + 1 + MeterStateFormat.VarSize((ulong)MissingField) +
        MeterStateFormat.VarSize((ulong)Count) + (16 * Count);

    /// <summary>
    /// Writes <c>[3][1] maxDistinct flags missing count fingerprint*</c>, the fingerprints ascending (so equal sets give
    /// equal bytes); returns the bytes written. Allocates the sorted copy.
    /// </summary>
    public int WriteTo(Span<byte> destination)
    {
        var values = Values();
        var w = new MeterStateFormat.Writer(destination[..SerializedSize]);
        w.Header(MeterStateKind.UniqueCount);
        w.Var((ulong)MaxDistinct);
        w.Byte(IsOverBound ? (byte)1 : (byte)0);
        w.Var((ulong)MissingField);
        w.Var((ulong)values.Length);
        foreach (var v in values)
        {
            w.Fixed(v);
        }

        return w.Position;
    }

    /// <summary>The serialised state as a new array.</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[SerializedSize];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>The fingerprints, ascending.</summary>
    public UInt128[] Values()
    {
        var values = new UInt128[Count];
        var n = 0;
        if (_hasZero)
        {
            values[n++] = UInt128.Zero;
        }

        foreach (var f in _slots)
        {
            if (f != UInt128.Zero)
            {
                values[n++] = f;
            }
        }

        Array.Sort(values);
        return values;
    }

    /// <summary>Reads a state written by <see cref="WriteTo"/>; false with the reason for anything else.</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out UniqueCountState? state, [NotNullWhen(false)] out string? error)
    {
        state = null;
        var r = new MeterStateFormat.Reader(bytes);
        if (!r.Header(MeterStateKind.UniqueCount, out error))
        {
            return false;
        }

        if (!r.Var(out var max) || max is 0 or > int.MaxValue || !r.Byte(out var flags) || flags > 1 || !r.Var(out var missing) || missing > long.MaxValue || !r.Var(out var count))
        {
            error = "truncated or invalid header (max_distinct, flags, missing-field count, value count)";
            return false;
        }

        // The declared count against the bytes that remain, before allocating anything for it.
        if (count > max || (ulong)r.Remaining != count * 16)
        {
            error = $"{count} value(s) declared with max_distinct {max} and {r.Remaining} byte(s) left (16 per value)";
            return false;
        }

        var s = new UniqueCountState((int)max) { MissingField = (long)missing, IsOverBound = flags == 1 };
        UInt128 previous = 0;
        for (ulong i = 0; i < count; i++)
        {
            r.Fixed(out var f);
            if (i > 0 && f <= previous)
            {
                error = $"fingerprint {i} is not above the one before it (values are written ascending, each once)";
                return false;
            }

            previous = f;
            s.InsertRead(f);
        }

        state = s;
        return true;
    }

    // A value read back: inserted without the bound (the writer kept at most the bound) and without the over-bound check.
    private void InsertRead(UInt128 fingerprint)
    {
        Count++;
        if (fingerprint == UInt128.Zero)
        {
            _hasZero = true;
            return;
        }

        if ((Count - (_hasZero ? 1 : 0)) * 2 > _slots.Length)
        {
            Grow();
        }

        Insert(_slots, fingerprint);
    }

    private bool Reserve()
    {
        if (Count >= MaxDistinct)
        {
            IsOverBound = true;
            return false;
        }

        Count++;
        return true;
    }

    private void Grow()
    {
        var bigger = new UInt128[_slots.Length * 2];
        foreach (var f in _slots)
        {
            if (f != UInt128.Zero)
            {
                Insert(bigger, f);
            }
        }

        _slots = bigger;
    }

    private static void Insert(UInt128[] slots, UInt128 fingerprint)
    {
        var mask = slots.Length - 1;
        var i = (int)(ulong)fingerprint & mask;
        while (slots[i] != UInt128.Zero)
        {
            i = (i + 1) & mask;
        }

        slots[i] = fingerprint;
    }
}
