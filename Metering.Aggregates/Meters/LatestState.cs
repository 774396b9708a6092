using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Metering.Aggregates.Meters;

/// <summary>
/// The state of the latest meter for one key: the record with the greatest event time, ties broken by the greater
/// event id compared ordinally over its UTF-8 bytes (the id after JSON unescaping, at most
/// <see cref="MaxIdBytes"/>). (account, id) is the dedup key, so two accepted records never tie on both. The winner
/// does not depend on arrival order or on how records are split into windows and flushes. A plain struct with its id
/// inline (no allocation per record); one writer at a time.
/// </summary>
public struct LatestState
{
    /// <summary>The longest event id (the record contract's limit).</summary>
    public const int MaxIdBytes = 128;

    private IdBuffer _id;
    private byte _idLength;

    /// <summary>Event time of the latest record (UTC ticks).</summary>
    public long TimeTicks { readonly get; private set; }

    /// <summary>Quantity of the latest record (nano-units).</summary>
    public long ValueNanos { readonly get; private set; }

    /// <summary>False before the first record (an id is never empty).</summary>
    public readonly bool HasValue => _idLength != 0;

    /// <summary>The latest record's event id (UTF-8).</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> EventId => ((ReadOnlySpan<byte>)_id)[.._idLength];

    /// <summary>Offers one record; it becomes the latest when it is later, or as late with a greater id. Allocation-free.</summary>
    public void Add(long timeTicks, ReadOnlySpan<byte> eventId, long valueNanos)
    {
        if (eventId.IsEmpty || eventId.Length > MaxIdBytes)
        {
            ThrowBadId(eventId.Length);
        }

        if (HasValue && (timeTicks < TimeTicks || (timeTicks == TimeTicks && eventId.SequenceCompareTo(EventId) <= 0)))
        {
            return;
        }

        TimeTicks = timeTicks;
        ValueNanos = valueNanos;
        eventId.CopyTo(_id);
        _idLength = (byte)eventId.Length;
    }

    /// <summary>Offers the latest record of <paramref name="other"/>.</summary>
    public void Merge(in LatestState other)
    {
        if (other.HasValue)
        {
            Add(other.TimeTicks, other.EventId, other.ValueNanos);
        }
    }

    /// <summary>Bytes of <see cref="WriteTo"/>: at most 2 + 1 + 10 + 10 + 1 + 128.</summary>
    public readonly int SerializedSize => 3 + (HasValue ? MeterStateFormat.VarSize((ulong)TimeTicks) + MeterStateFormat.VarSize((ulong)ValueNanos) + 1 + _idLength : 0);

    /// <summary>Writes <c>[2][1] has [time value idLength id]</c>; returns the bytes written.</summary>
    public readonly int WriteTo(Span<byte> destination)
    {
        var w = new MeterStateFormat.Writer(destination[..SerializedSize]);
        w.Header(MeterStateKind.Latest);
        w.Byte(HasValue ? (byte)1 : (byte)0);
        if (HasValue)
        {
            w.Var((ulong)TimeTicks);
            w.Var((ulong)ValueNanos);
            w.Byte(_idLength);
            w.Bytes(EventId);
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
    public static bool TryRead(ReadOnlySpan<byte> bytes, out LatestState state, [NotNullWhen(false)] out string? error)
    {
        state = default;
        var r = new MeterStateFormat.Reader(bytes);
        if (!r.Header(MeterStateKind.Latest, out error))
        {
            return false;
        }

        if (!r.Byte(out var has) || has > 1)
        {
            error = "truncated or invalid presence byte";
            return false;
        }

        if (has == 1)
        {
            if (!r.Var(out var time) || !r.Var(out var value) || time > long.MaxValue || value > long.MaxValue || !r.Byte(out var length)
                || length is 0 or > MaxIdBytes || !r.Bytes(length, out var id))
            {
                error = $"truncated or invalid latest record (time and quantity are below 2^63, the id 1 to {MaxIdBytes} bytes)";
                return false;
            }

            state.Add((long)time, id, (long)value);
        }

        if (r.Remaining != 0)
        {
            error = $"{r.Remaining} byte(s) after the state";
            return false;
        }

        return true;
    }

    [DoesNotReturn]
    private static void ThrowBadId(int length) =>
        throw new ArgumentException($"an event id of {length} bytes: ids are 1 to {MaxIdBytes} bytes (the record contract; admission refuses others)", "eventId");

    [InlineArray(MaxIdBytes)]
    private struct IdBuffer
    {
        private byte _element;
    }
}
