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
    private long[] _indexes;
    private Int128[] _sums;
    private int _last; // position of the bucket the previous record went to

    /// <summary>An empty state of buckets of <paramref name="bucketTicks"/>, keeping up to <paramref name="maxBuckets"/> of them.</summary>
    public PercentileState(long bucketTicks, int maxBuckets, int initialCapacity = 4)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketTicks, TimeSpan.TicksPerSecond);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBuckets, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(initialCapacity, 1);
        BucketTicks = bucketTicks;
        MaxBuckets = maxBuckets;
        _indexes = new long[initialCapacity];
        _sums = new Int128[initialCapacity];
    }

    /// <summary>Bucket length in ticks.</summary>
    public long BucketTicks { get; }

    /// <summary>The bound on buckets with records.</summary>
    public int MaxBuckets { get; }

    /// <summary>Buckets with records.</summary>
    public int Count { get; private set; }

    /// <summary>True once a record fell in a bucket beyond <see cref="MaxBuckets"/>.</summary>
    public bool IsOverBound { get; private set; }

    /// <summary>Bucket indexes ((ticks - Unix epoch) / bucket), strictly ascending.</summary>
    public ReadOnlySpan<long> Indexes => _indexes.AsSpan(0, Count);

    /// <summary>Each bucket's sum in nano-units, aligned with <see cref="Indexes"/>.</summary>
    public ReadOnlySpan<Int128> Sums => _sums.AsSpan(0, Count);

    /// <summary>Adds one record's quantity to its bucket.</summary>
    public void Add(long timeTicks, long nanos) => AddToBucket((timeTicks - EpochTicks) / BucketTicks, nanos);

    /// <summary>
    /// Applies a correction of one event (a void: minus its quantity; an amend: the difference) to its bucket. False, and
    /// nothing changed, when the bucket would go below zero (a correction takes back at most what was recorded).
    /// </summary>
    public bool Correct(long timeTicks, Int128 deltaNanos)
    {
        var index = (timeTicks - EpochTicks) / BucketTicks;
        var at = Array.BinarySearch(_indexes, 0, Count, index);
        var current = at >= 0 ? _sums[at] : 0;
        if (current + deltaNanos < 0)
        {
            return false;
        }

        AddToBucket(index, deltaNanos);
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

        if (other.IsOverBound)
        {
            IsOverBound = true;
        }

        if (IsOverBound || other.Count == 0)
        {
            return;
        }

        var indexes = new long[Count + other.Count];
        var sums = new Int128[indexes.Length];
        int i = 0, j = 0, k = 0;
        while (i < Count || j < other.Count)
        {
            if (j == other.Count || (i < Count && _indexes[i] < other._indexes[j]))
            {
                (indexes[k], sums[k]) = (_indexes[i], _sums[i]);
                i++;
            }
            else if (i == Count || other._indexes[j] < _indexes[i])
            {
                (indexes[k], sums[k]) = (other._indexes[j], other._sums[j]);
                j++;
            }
            else
            {
                (indexes[k], sums[k]) = (_indexes[i], _sums[i] + other._sums[j]);
                i++;
                j++;
            }

            k++;
        }

        if (k > MaxBuckets)
        {
            IsOverBound = true;
            return;
        }

        (_indexes, _sums, Count, _last) = (indexes, sums, k, 0);
    }

    /// <summary>Bytes of <see cref="WriteTo"/>: a header, then per bucket its index as a delta and its sum, as varints.</summary>
    public int SerializedSize
    {
        get
        {
            var size = 2 + MeterStateFormat.VarSize((ulong)BucketTicks) + MeterStateFormat.VarSize((ulong)MaxBuckets) + 1 + MeterStateFormat.VarSize((ulong)Count);
            var previous = 0L;
            for (var i = 0; i < Count; i++)
            {
                size += MeterStateFormat.VarSize((ulong)(_indexes[i] - previous)) + MeterStateFormat.VarSize((UInt128)_sums[i]);
                previous = _indexes[i];
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
        var previous = 0L;
        for (var i = 0; i < Count; i++)
        {
            w.Var((ulong)(_indexes[i] - previous));
            w.Var128((UInt128)_sums[i]);
            previous = _indexes[i];
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

        var s = new PercentileState((long)bucket, (int)max, Math.Max(1, (int)count)) { IsOverBound = flags == 1 };
        var index = 0L;
        for (ulong i = 0; i < count; i++)
        {
            if (!r.Var(out var delta) || !r.Var128(out var sum) || sum > (UInt128)Int128.MaxValue || (i > 0 && delta == 0) || delta > (ulong)(long.MaxValue - index))
            {
                error = $"bucket {i}: truncated, or its index is not after the previous bucket's, or a sum beyond 2^127";
                return false;
            }

            index += (long)delta;
            s._indexes[i] = index;
            s._sums[i] = (Int128)sum;
        }

        s.Count = (int)count;
        if (r.Remaining != 0)
        {
            error = $"{r.Remaining} byte(s) after the state";
            return false;
        }

        state = s;
        return true;
    }

    private void AddToBucket(long index, Int128 nanos)
    {
        var n = Count;
        if (n > 0 && _indexes[_last] == index)
        {
            _sums[_last] += nanos; // the common case: the same bucket as the previous record
            return;
        }

        int at;
        if (n == 0 || index > _indexes[n - 1])
        {
            at = n;
        }
        else
        {
            at = Array.BinarySearch(_indexes, 0, n, index);
            if (at >= 0)
            {
                _sums[at] += nanos;
                _last = at;
                return;
            }

            at = ~at;
        }

        if (IsOverBound)
        {
            return;
        }

        if (n >= MaxBuckets)
        {
            IsOverBound = true;
            return;
        }

        if (n == _indexes.Length)
        {
            var size = Math.Min(Math.Max(4, n * 2), MaxBuckets);
            Array.Resize(ref _indexes, size);
            Array.Resize(ref _sums, size);
        }

        if (at < n)
        {
            Array.Copy(_indexes, at, _indexes, at + 1, n - at);
            Array.Copy(_sums, at, _sums, at + 1, n - at);
        }

        _indexes[at] = index;
        _sums[at] = nanos;
        _last = at;
        Count = n + 1;
    }
}
