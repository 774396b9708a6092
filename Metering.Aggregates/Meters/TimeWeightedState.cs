using System.Diagnostics.CodeAnalysis;

namespace Metering.Aggregates.Meters;

/// <summary>
/// The state of the time_weighted meter for one key: every reading (event time, level in nano-units), sorted by time,
/// one level per instant. Readings may arrive in any order, within a window and across windows and flushes: the
/// integral depends on each reading's neighbours, so all of them are kept (up to <see cref="MaxReadings"/> distinct
/// times; one more and the state is <see cref="IsOverBound"/> for good and not billed). Two readings at the same
/// instant: the higher level stands (order-independent without keeping ids; the producer should not send them).
/// Appending in time order is O(1) and allocates only when the arrays double; an out-of-order reading is a binary
/// search and a shift. One writer at a time. The period rule (level 0 before the first reading, the last one holding
/// until the period end or as-of) is Metering.Rating's <c>TimeWeightedRule</c>, over <see cref="Times"/> and <see cref="Levels"/>.
/// </summary>
public sealed class TimeWeightedState
{
    private readonly SortedSeries<long, HigherLevel> _readings;

    /// <summary>An empty state keeping up to <paramref name="maxReadings"/> reading times.</summary>
    public TimeWeightedState(int maxReadings, int initialCapacity = 4) => _readings = new(maxReadings, initialCapacity);

    /// <summary>The bound on distinct reading times.</summary>
    public int MaxReadings => _readings.MaxCount;

    /// <summary>Readings kept.</summary>
    public int Count => _readings.Count;

    /// <summary>True once a reading beyond <see cref="MaxReadings"/> distinct times arrived.</summary>
    public bool IsOverBound => _readings.IsOverBound;

    /// <summary>Reading times (UTC ticks), strictly ascending.</summary>
    public ReadOnlySpan<long> Times => _readings.Keys;

    /// <summary>The level of each reading (nano-units), aligned with <see cref="Times"/>.</summary>
    public ReadOnlySpan<long> Levels => _readings.Values;

    /// <summary>Adds one reading; at an instant already read, the higher level stands.</summary>
    public void Add(long timeTicks, long levelNanos) => _readings.Add(timeTicks, levelNanos);

    /// <summary>Adds every reading of <paramref name="other"/>, and its over-bound flag. A linear merge of the two sorted lists.</summary>
    public void Merge(TimeWeightedState other)
    {
        ArgumentNullException.ThrowIfNull(other);
        _readings.Merge(other._readings);
    }

    /// <summary>Bytes of <see cref="WriteTo"/>: a header, then per reading its time as a delta from the previous one and its level, as varints.</summary>
    public int SerializedSize
    {
        get
        {
            var size = 2 + MeterStateFormat.VarSize((ulong)MaxReadings) + 1 + MeterStateFormat.VarSize((ulong)Count);
            var times = Times;
            var levels = Levels;
            var previous = 0L;
            for (var i = 0; i < times.Length; i++)
            {
                size += MeterStateFormat.VarSize((ulong)(times[i] - previous)) + MeterStateFormat.VarSize((ulong)levels[i]);
                previous = times[i];
            }

            return size;
        }
    }

    /// <summary>Writes <c>[4][1] maxReadings flags count (timeDelta level)*</c>; returns the bytes written.</summary>
    public int WriteTo(Span<byte> destination)
    {
        var w = new MeterStateFormat.Writer(destination[..SerializedSize]);
        w.Header(MeterStateKind.TimeWeighted);
        w.Var((ulong)MaxReadings);
        w.Byte(IsOverBound ? (byte)1 : (byte)0);
        w.Var((ulong)Count);
        var times = Times;
        var levels = Levels;
        var previous = 0L;
        for (var i = 0; i < times.Length; i++)
        {
            w.Var((ulong)(times[i] - previous));
            w.Var((ulong)levels[i]);
            previous = times[i];
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

    /// <summary>Reads a state written by <see cref="WriteTo"/>; false with the reason for anything else.</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out TimeWeightedState? state, [NotNullWhen(false)] out string? error)
    {
        state = null;
        var r = new MeterStateFormat.Reader(bytes);
        if (!r.Header(MeterStateKind.TimeWeighted, out error))
        {
            return false;
        }

        if (!r.Var(out var max) || max is 0 or > int.MaxValue || !r.Byte(out var flags) || flags > 1 || !r.Var(out var count))
        {
            error = "truncated or invalid header (max_readings, flags, reading count)";
            return false;
        }

        // Each reading takes at least two bytes: check the declared count against what remains before allocating.
        if (count > max || count > (ulong)r.Remaining / 2)
        {
            error = $"{count} reading(s) declared with max_readings {max} and {r.Remaining} byte(s) left (at least 2 per reading)";
            return false;
        }

        var s = new TimeWeightedState((int)max, Math.Max(1, (int)count));
        s._readings.IsOverBound = flags == 1;
        var time = 0L;
        for (ulong i = 0; i < count; i++)
        {
            if (!r.Var(out var delta) || !r.Var(out var level) || level > long.MaxValue || (i > 0 && delta == 0) || delta > (ulong)(long.MaxValue - time))
            {
                error = $"reading {i}: truncated, or its time is not after the previous reading's, or a value beyond 2^63";
                return false;
            }

            time += (long)delta;
            s._readings.Append(time, (long)level);
        }

        if (r.Remaining != 0)
        {
            error = $"{r.Remaining} byte(s) after the state";
            return false;
        }

        state = s;
        return true;
    }
}
