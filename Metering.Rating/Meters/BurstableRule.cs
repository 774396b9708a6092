namespace Metering.Rating.Meters;

/// <summary>
/// percentile: the burstable-billing rule (docs/meters.md). The period is cut into buckets aligned to the Unix epoch
/// (5 minutes by default); each bucket's quantity is the sum of its records; <b>every</b> bucket of the period counts,
/// an empty one as 0. Sort the N buckets from the highest, discard the top floor(N × (100 − p) / 100) and bill the
/// highest remaining: rank floor(N × (100 − p) / 100) + 1 from the top, which is the nearest-rank percentile
/// (the ceil(p/100 × N)-th smallest). A 30-day month of 5-minute buckets: N = 8,640, p = 95: 432 discarded, the 433rd
/// highest billed. Pure.
/// </summary>
public static class BurstableRule
{
    private static readonly long EpochTicks = DateTime.UnixEpoch.Ticks;

    /// <summary>The index of the bucket holding <paramref name="ticks"/> (UTC ticks), buckets aligned to the Unix epoch.</summary>
    public static long BucketIndex(long ticks, long bucketTicks) => (ticks - EpochTicks) / bucketTicks;

    /// <summary>
    /// The buckets of [<paramref name="startTicks"/>, <paramref name="endTicks"/>): every bucket slot that overlaps it
    /// (a period whose start is not on a bucket boundary, such as an account time zone of +05:45 with 1-hour buckets,
    /// counts its partial first and last buckets once each). 0 for an empty range.
    /// </summary>
    public static long BucketCount(long startTicks, long endTicks, long bucketTicks) =>
        endTicks <= startTicks ? 0 : BucketIndex(endTicks - 1, bucketTicks) - BucketIndex(startTicks, bucketTicks) + 1;

    /// <summary>
    /// The rank, counted from the highest bucket (1 = the highest), that a percentile of <paramref name="buckets"/>
    /// bills: floor(N × (100 − p) / 100) + 1, exact in decimal. 8,640 buckets at p95: 433.
    /// </summary>
    public static long BilledRank(long buckets, decimal percentile)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(buckets);
        if (percentile <= 0 || percentile >= 100)
        {
            throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "a percentile is above 0 and below 100");
        }

        return (long)decimal.Floor(buckets * (100 - percentile) / 100) + 1;
    }

    /// <summary>
    /// A bucket sum as a rate: nano-units per bucket × <paramref name="ratePerTicks"/> / <paramref name="bucketTicks"/>
    /// (bytes per 5 minutes → bytes per second: / 300). <b>Rounding step:</b> truncated toward zero at 9 fractional
    /// digits (nano-units), once, on the billed bucket only (the conversion is monotone, so converting before or after
    /// the selection picks the same bucket). Mbit/s from bytes/s is the price's <c>convert.divide_by: 125000</c>, exact.
    /// </summary>
    public static Int128 Rate(Int128 bucketNanos, long bucketTicks, long ratePerTicks)
    {
        // floor(s * r / b) without forming s * r: (s / b) * r + floor((s % b) * r / b); s % b < b, so the second product is small.
        var (whole, rest) = Int128.DivRem(bucketNanos, bucketTicks);
        return (whole * ratePerTicks) + (rest * ratePerTicks / bucketTicks);
    }

    /// <summary>
    /// The billed bucket of [period start, min(period end, <paramref name="asOfTicks"/>)): the bucket sums given
    /// (<paramref name="bucketIndexes"/> with <paramref name="bucketSums"/> in nano-units, any order, empty buckets
    /// absent) plus a 0 for every other bucket of the range, at <see cref="BilledRank"/>, as a rate when the meter has
    /// <c>rate_per</c>. Buckets outside the range are ignored. Allocates one scratch array of the range's buckets.
    /// </summary>
    public static MeterQuantity Quantity(MeterDefinition meter, ReadOnlySpan<long> bucketIndexes, ReadOnlySpan<Int128> bucketSums, bool overBound,
        long periodStartTicks, long periodEndTicks, long asOfTicks)
    {
        ArgumentNullException.ThrowIfNull(meter);
        if (meter.Aggregation != MeterAggregation.Percentile)
        {
            throw new ArgumentException($"a {meter.AggregationName} meter is not percentile", nameof(meter));
        }

        if (bucketIndexes.Length != bucketSums.Length)
        {
            throw new ArgumentException($"{bucketIndexes.Length} bucket indexes but {bucketSums.Length} sums", nameof(bucketSums));
        }

        if (overBound)
        {
            return new MeterQuantity(0, MeterQuantity.OverBoundReason,
                $"more than {MeterDefinition.MaxBuckets} buckets of {MeterDurations.Format(meter.Bucket)} in the period: the percentile meter keeps every bucket up to that bound; use longer buckets");
        }

        var bucketTicks = meter.Bucket.Ticks;
        var end = Math.Max(periodStartTicks, Math.Min(periodEndTicks, asOfTicks));
        var n = BucketCount(periodStartTicks, end, bucketTicks);
        if (n == 0)
        {
            return new MeterQuantity(0);
        }

        var first = BucketIndex(periodStartTicks, bucketTicks);
        var last = BucketIndex(end - 1, bucketTicks);
        var inRange = new List<Int128>(bucketSums.Length);
        for (var i = 0; i < bucketIndexes.Length; i++)
        {
            if (bucketIndexes[i] >= first && bucketIndexes[i] <= last && bucketSums[i] > 0)
            {
                inRange.Add(bucketSums[i]);
            }
        }

        var rank = BilledRank(n, meter.Percentile);
        if (rank > inRange.Count)
        {
            return new MeterQuantity(0); // the billed rank falls on an empty bucket
        }

        inRange.Sort(static (a, b) => b.CompareTo(a));
        var billed = inRange[(int)rank - 1];
        return meter.RatePer is { } per
            ? MeterQuantity.OfNanos(Rate(billed, bucketTicks, per.Ticks), "percentile rate")
            : MeterQuantity.OfNanos(billed, "percentile bucket");
    }
}
