using System.Diagnostics.CodeAnalysis;

namespace Metering.Aggregates.Meters;

/// <summary>
/// The state of the percentile meter for one key: the exact sum (nano-units, 128-bit) of each bucket that has records,
/// buckets of <see cref="BucketTicks"/> aligned to the Unix epoch, sorted by bucket index. Sums are additive, so windows,
/// flushes and late records merge exactly in any order, and a correction moves one bucket's sum. Empty buckets are
/// not stored (the period rule counts them as 0). At most <see cref="MaxBuckets"/> buckets; one more and the state is
/// <see cref="IsOverBound"/> for good. A record in the bucket of the previous one is one compare and an add
/// (allocation-free); a new bucket after the last appends; an earlier one is a binary search and a shift. One writer
/// at a time. The period rule (rank, empty buckets, rate) is Metering.Rating's <c>BurstableRule</c>, over
/// <see cref="Indexes"/> and <see cref="Sums"/>.
/// </summary>
public sealed class PercentileState
{
    private static readonly long EpochTicks = DateTime.UnixEpoch.Ticks;
    private readonly SortedSeries<Int128, AddedSum> _buckets;

    /// <summary>An empty state of buckets of <paramref name="bucketTicks"/>, keeping up to <paramref name="maxBuckets"/> of them.</summary>
    public PercentileState(long bucketTicks, int maxBuckets, int initialCapacity = 4)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketTicks, TimeSpan.TicksPerSecond);
        BucketTicks = bucketTicks;
        _buckets = new(maxBuckets, initialCapacity);
    }

    /// <summary>Bucket length in ticks.</summary>
    public long BucketTicks { get; }

    /// <summary>The bound on buckets with records.</summary>
    public int MaxBuckets => _buckets.MaxCount;

    /// <summary>Buckets with records.</summary>
    public int Count => _buckets.Count;

    /// <summary>True once a record fell in a bucket beyond <see cref="MaxBuckets"/>.</summary>
    public bool IsOverBound => _buckets.IsOverBound;

    /// <summary>Bucket indexes ((ticks - Unix epoch) / bucket), strictly ascending.</summary>
    public ReadOnlySpan<long> Indexes => _buckets.Keys;

    /// <summary>Each bucket's sum in nano-units, aligned with <see cref="Indexes"/>.</summary>
    public ReadOnlySpan<Int128> Sums => _buckets.Values;

    /// <summary>Adds one record's quantity to its bucket.</summary>
    public void Add(long timeTicks, long nanos) => _buckets.Add((timeTicks - EpochTicks) / BucketTicks, nanos);

    /// <summary>
    /// Applies a correction of one event (a void: minus its quantity; an amend: the difference) to its bucket. False, and
    /// nothing changed, when the bucket would go below zero (a correction takes back at most what was recorded).
    /// </summary>
    public bool Correct(long timeTicks, Int128 deltaNanos)
    {
        var index = (timeTicks - EpochTicks) / BucketTicks;
        _buckets.TryGet(index, out var current);
        if (current + deltaNanos < 0)
        {
            return false;
        }

        _buckets.Add(index, deltaNanos);
        return true;
    }

    /// <summary>Adds every bucket of <paramref name="other"/> (same bucket length), and its over-bound flag. A linear merge.</summary>
    public void Merge(PercentileState other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.BucketTicks != BucketTicks)
        {
            throw new ArgumentException($"buckets of {other.BucketTicks} ticks cannot merge into buckets of {BucketTicks}", nameof(other));
        }

        _buckets.Merge(other._buckets);
    }

    /// <summary>Bytes of <see cref="WriteTo"/>: a header, then per bucket its index as a delta and its sum, as varints.</summary>
    public int SerializedSize
    {
        get
        {
            var size = 2 + MeterStateFormat.VarSize((ulong)BucketTicks) + MeterStateFormat.VarSize((ulong)MaxBuckets) + 1 + MeterStateFormat.VarSize((ulong)Count);
            var indexes = Indexes;
            var sums = Sums;
            var previous = 0L;
            for (var i = 0; i < indexes.Length; i++)
            {
                size += MeterStateFormat.VarSize((ulong)(indexes[i] - previous)) + MeterStateFormat.VarSize((UInt128)sums[i]);
                previous = indexes[i];
            }

            return size;
        }
    }

    /// <summary>Writes <c>[5][1] bucketTicks maxBuckets flags count (indexDelta sum)*</c>; returns the bytes written.</summary>
    public int WriteTo(Span<byte> destination)
    {
        var w = new MeterStateFormat.Writer(destination[..SerializedSize]);
        w.Header(MeterStateKind.Percentile);
        w.Var((ulong)BucketTicks);
        w.Var((ulong)MaxBuckets);
        w.Byte(IsOverBound ? (byte)1 : (byte)0);
        w.Var((ulong)Count);
        var indexes = Indexes;
        var sums = Sums;
        var previous = 0L;
        for (var i = 0; i < indexes.Length; i++)
        {
            w.Var((ulong)(indexes[i] - previous));
            w.Var128((UInt128)sums[i]);
            previous = indexes[i];
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
    public static bool TryRead(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out PercentileState? state, [NotNullWhen(false)] out string? error)
    {
        state = null;
        var r = new MeterStateFormat.Reader(bytes);
        if (!r.Header(MeterStateKind.Percentile, out error))
        {
            return false;
        }

        if (!r.Var(out var bucket) || bucket < TimeSpan.TicksPerSecond || bucket > TimeSpan.TicksPerDay || !r.Var(out var max) || max is 0 or > int.MaxValue
            || !r.Byte(out var flags) || flags > 1 || !r.Var(out var count))
        {
            error = "truncated or invalid header (bucket ticks, max buckets, flags, bucket count)";
            return false;
        }

        if (count > max || count > (ulong)r.Remaining / 2)
        {
            error = $"{count} bucket(s) declared with a bound of {max} and {r.Remaining} byte(s) left (at least 2 per bucket)";
            return false;
        }

        var s = new PercentileState((long)bucket, (int)max, Math.Max(1, (int)count));
        s._buckets.IsOverBound = flags == 1;
        var index = 0L;
        for (ulong i = 0; i < count; i++)
        {
            if (!r.Var(out var delta) || !r.Var128(out var sum) || sum > (UInt128)Int128.MaxValue || (i > 0 && delta == 0) || delta > (ulong)(long.MaxValue - index))
            {
                error = $"bucket {i}: truncated, or its index is not after the previous bucket's, or a sum beyond 2^127";
                return false;
            }

            index += (long)delta;
            s._buckets.Append(index, (Int128)sum);
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
