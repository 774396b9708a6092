using System.Diagnostics.CodeAnalysis;

namespace Metering.Aggregates.Meters;

/// <summary>
/// The state of the count, max and min meters for one key: the number of records and their smallest and largest
/// quantity in nano-units. Exact, commutative and associative (<see cref="Merge"/> in any order and split gives the same
/// state). A plain struct: one writer at a time (the aggregate table's slot keeps the same three values lock-free).
/// </summary>
public struct ExtremaState : IEquatable<ExtremaState>
{
    /// <summary>Records added.</summary>
    public long Count;

    /// <summary>The smallest quantity added (nano-units); <see cref="long.MaxValue"/> while empty.</summary>
    public long MinNanos;

    /// <summary>The largest quantity added (nano-units); <see cref="long.MinValue"/> while empty.</summary>
    public long MaxNanos;

    /// <summary>An empty state.</summary>
    public static ExtremaState Empty => new() { MinNanos = long.MaxValue, MaxNanos = long.MinValue };

    /// <summary>True before the first record.</summary>
    public readonly bool IsEmpty => Count == 0;

    /// <summary>Adds one record's quantity. Allocation-free.</summary>
    public void Add(long nanos)
    {
        Count++;
        if (nanos < MinNanos)
        {
            MinNanos = nanos;
        }

        if (nanos > MaxNanos)
        {
            MaxNanos = nanos;
        }
    }

    /// <summary>Adds every record of <paramref name="other"/> (another window, flush or stored period state).</summary>
    public void Merge(in ExtremaState other)
    {
        if (other.Count == 0)
        {
            return;
        }

        Count += other.Count;
        MinNanos = Math.Min(MinNanos, other.MinNanos);
        MaxNanos = Math.Max(MaxNanos, other.MaxNanos);
    }

    /// <summary>Bytes of <see cref="WriteTo"/>: at most 2 + 10 + 10 + 10.</summary>
    public readonly int SerializedSize => 2 + MeterStateFormat.VarSize((ulong)Count) +
        (Count == 0 ? 0 : MeterStateFormat.VarSize((ulong)MinNanos) + MeterStateFormat.VarSize((ulong)MaxNanos));

    /// <summary>Writes the state (<c>[1][1] count [min max]</c>; quantities are never negative); returns the bytes written.</summary>
    public readonly int WriteTo(Span<byte> destination)
    {
        var w = new MeterStateFormat.Writer(destination[..SerializedSize]);
        w.Header(MeterStateKind.Extrema);
        w.Var((ulong)Count);
        if (Count != 0)
        {
            w.Var((ulong)MinNanos);
            w.Var((ulong)MaxNanos);
        }

        return w.Position;
    }

    /// <summary>The serialised state as a new array.</summary>
    public readonly byte[] ToBytes()
    {
        var bytes = new byte[SerializedSize];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>Reads a state written by <see cref="WriteTo"/>; false with the reason for anything else.</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, out ExtremaState state, [NotNullWhen(false)] out string? error)
    {
        state = Empty;
        var r = new MeterStateFormat.Reader(bytes);
        if (!r.Header(MeterStateKind.Extrema, out error))
        {
            return false;
        }

        if (!r.Var(out var count) || count > long.MaxValue)
        {
            error = "truncated or invalid record count";
            return false;
        }

        if (count != 0)
        {
            if (!r.Var(out var min) || !r.Var(out var max) || min > long.MaxValue || max > long.MaxValue || min > max)
            {
                error = "truncated or invalid min/max (quantities are 0 to 2^63-1 nano-units, min at most max)";
                return false;
            }

            state = new ExtremaState { Count = (long)count, MinNanos = (long)min, MaxNanos = (long)max };
        }

        if (r.Remaining != 0)
        {
            error = $"{r.Remaining} byte(s) after the state";
            return false;
        }

        return true;
    }

    /// <inheritdoc />
    public readonly bool Equals(ExtremaState other) => Count == other.Count && (Count == 0 || (MinNanos == other.MinNanos && MaxNanos == other.MaxNanos));

    /// <inheritdoc />
    public override readonly bool Equals(object? obj) => obj is ExtremaState other && Equals(other);

    /// <inheritdoc />
    public override readonly int GetHashCode() => Count == 0 ? 0 : HashCode.Combine(Count, MinNanos, MaxNanos);

    /// <summary>Equal states.</summary>
    public static bool operator ==(ExtremaState left, ExtremaState right) => left.Equals(right);

    /// <summary>Different states.</summary>
    public static bool operator !=(ExtremaState left, ExtremaState right) => !left.Equals(right);
}
