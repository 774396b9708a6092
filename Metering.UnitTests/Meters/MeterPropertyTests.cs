using System.Text;
using FsCheck.Xunit;
using Metering.Aggregates.Meters;
using Metering.Rating.Meters;

namespace Metering.UnitTests.Meters;

/// <summary>
/// Every meter against a plain reference over the whole input: random records (distinct ids: dedup has removed the
/// duplicates), random arrival order, random splits into flushes and windows, and a serialise/deserialise round trip
/// at random points standing for a crash and a read back from the ledger. The merged state's quantity must equal the
/// reference's, exactly.
/// </summary>
public class MeterPropertyTests
{
    private static readonly long Start = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;
    private static readonly long End = new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    private sealed record Rec(long Ticks, byte[] Id, long Nanos, int Value);

    private sealed class Box<T>(T value)
    {
        public T Value = value;
    }

    private static List<Rec> Records(Random rng)
    {
        var n = rng.Next(0, 400);
        // Few distinct instants and values so that ties (latest, same-instant readings) and repeats (unique_count) happen.
        var instants = rng.Next(1, 60);
        var times = Enumerable.Range(0, instants).Select(_ => Start + rng.NextInt64(End - Start)).ToArray();
        var records = new List<Rec>(n);
        for (var i = 0; i < n; i++)
        {
            var nanos = rng.Next(4) switch { 0 => 0, 1 => rng.NextInt64(1, 1_000_000_000), 2 => rng.NextInt64(long.MaxValue / 4096), _ => rng.NextInt64(1, 50) * 1_000_000_000 };
            records.Add(new Rec(times[rng.Next(instants)], Encoding.UTF8.GetBytes($"e{rng.Next(1000)}-{i}"), nanos, rng.Next(1, 1 + rng.Next(1, 300))));
        }

        return records;
    }

    /// <summary>
    /// The engine's path in miniature: records arrive shuffled, are cut into flushes, each flush into windows by event
    /// time, each window's state is built record by record; window states merge into the flush's, flushes into the
    /// period's in random order; any state may be written to bytes and read back on the way.
    /// </summary>
    private static T Pipeline<T>(Random rng, List<Rec> records, Func<T> create, Action<T, Rec> add, Action<T, T> merge, Func<T, T> roundTrip)
    {
        var arrival = records.OrderBy(_ => rng.Next()).ToList();
        var windowTicks = new[] { TimeSpan.TicksPerMinute, TimeSpan.TicksPerMinute * 5, TimeSpan.TicksPerHour }[rng.Next(3)];
        var flushes = new List<T>();
        var at = 0;
        while (at < arrival.Count)
        {
            var take = rng.Next(1, arrival.Count - at + 1);
            var windows = new Dictionary<long, T>();
            foreach (var r in arrival.Skip(at).Take(take))
            {
                var w = r.Ticks / windowTicks;
                if (!windows.TryGetValue(w, out var state))
                {
                    windows[w] = state = create();
                }

                add(state, r);
            }

            at += take;
            var flush = create();
            foreach (var w in windows.Values.OrderBy(_ => rng.Next()))
            {
                merge(flush, rng.Next(4) == 0 ? roundTrip(w) : w);
            }

            flushes.Add(rng.Next(2) == 0 ? roundTrip(flush) : flush);
        }

        var period = create();
        foreach (var f in flushes.OrderBy(_ => rng.Next()))
        {
            merge(period, f);
            if (rng.Next(3) == 0)
            {
                period = roundTrip(period); // the ledger's stored state, read back by the next flush
            }
        }

        return roundTrip(period);
    }

    [Property(MaxTest = 150)]
    public bool Count_max_and_min_equal_the_reference(int seed)
    {
        var rng = new Random(seed);
        var records = Records(rng);
        var s = Pipeline(rng, records, () => new Box<ExtremaState>(ExtremaState.Empty), (b, r) => b.Value.Add(r.Nanos), (a, b) => a.Value.Merge(b.Value),
            b => ExtremaState.TryRead(b.Value.ToBytes(), out var read, out _) ? new Box<ExtremaState>(read) : throw new InvalidOperationException("round trip")).Value;
        return MeterRules.Count(s.Count).Quantity == records.Count
            && MeterRules.Extremum(s.Count, s.MaxNanos).Quantity == (records.Count == 0 ? 0 : records.Max(r => r.Nanos) / 1_000_000_000m)
            && MeterRules.Extremum(s.Count, s.MinNanos).Quantity == (records.Count == 0 ? 0 : records.Min(r => r.Nanos) / 1_000_000_000m);
    }

    [Property(MaxTest = 150)]
    public bool Latest_equals_the_record_with_the_greatest_time_then_id(int seed)
    {
        var rng = new Random(seed);
        var records = Records(rng);
        var s = Pipeline(rng, records, () => new Box<LatestState>(default), (b, r) => b.Value.Add(r.Ticks, r.Id, r.Nanos), (a, b) => a.Value.Merge(b.Value),
            b => LatestState.TryRead(b.Value.ToBytes(), out var read, out _) ? new Box<LatestState>(read) : throw new InvalidOperationException("round trip")).Value;
        var expected = records.OrderByDescending(r => r.Ticks).ThenByDescending(r => r.Id, Utf8Ordinal.Instance).FirstOrDefault();
        return expected is null ? !s.HasValue : s.ValueNanos == expected.Nanos && s.EventId.SequenceEqual(expected.Id);
    }

    [Property(MaxTest = 150)]
    public bool Unique_count_equals_the_distinct_values_and_is_over_bound_exactly_past_max_distinct(int seed)
    {
        var rng = new Random(seed);
        var records = Records(rng);
        var max = rng.Next(1, 300);
        var meter = new MeterDefinition { Aggregation = MeterAggregation.UniqueCount, Field = "dimensions.u", DimensionKey = "u", MaxDistinct = max };
        var s = Pipeline(rng, records, () => new UniqueCountState(max), (st, r) => st.Add(UniqueCountState.Fingerprint(Encoding.UTF8.GetBytes($"user-{r.Value}"))), (a, b) => a.Merge(b),
            st => UniqueCountState.TryRead(st.ToBytes(), out var read, out _) ? read : throw new InvalidOperationException("round trip"));
        var distinct = records.Select(r => r.Value).Distinct().Count();
        var q = MeterRules.UniqueCount(meter, s.Count, s.IsOverBound);
        return distinct > max ? q.UnpricedReason == MeterQuantity.OverBoundReason : q.IsPriced && q.Quantity == distinct;
    }

    [Property(MaxTest = 150)]
    public bool Time_weighted_equals_a_step_function_integrated_breakpoint_by_breakpoint_or_is_over_bound_exactly_past_max_readings(int seed)
    {
        var rng = new Random(seed);
        var records = Records(rng);
        var unit = new[] { TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), TimeSpan.FromHours(1), TimeSpan.FromDays(1) }[rng.Next(4)];
        var meter = new MeterDefinition { Aggregation = MeterAggregation.TimeWeighted, UnitOfTime = unit, MaxReadings = rng.Next(2) == 0 ? 10_000 : rng.Next(1, 80) };
        var s = Pipeline(rng, records, () => new TimeWeightedState(meter.MaxReadings), (st, r) => st.Add(r.Ticks, r.Nanos), (a, b) => a.Merge(b),
            st => TimeWeightedState.TryRead(st.ToBytes(), out var read, out _) ? read : throw new InvalidOperationException("round trip"));
        var asOf = rng.Next(2) == 0 ? End : Start + rng.NextInt64(End - Start);

        // Reference: the level at t is that of the latest reading at or before t (the highest of an instant), 0 before
        // the first; integrate between consecutive breakpoints in decimal, then truncate to 9 fractional digits.
        var end = Math.Min(End, asOf);
        var points = records.Select(r => r.Ticks).Where(t => t < end).Append(Start).Append(end).Distinct().Order().ToList();
        decimal integral = 0; // nano-units x ticks
        for (var i = 0; i + 1 < points.Count; i++)
        {
            var t = points[i];
            var atOrBefore = records.Where(r => r.Ticks <= t).ToList();
            var level = atOrBefore.Count == 0 ? 0 : atOrBefore.Where(r => r.Ticks == atOrBefore.Max(x => x.Ticks)).Max(r => r.Nanos);
            integral += (decimal)level * (points[i + 1] - t);
        }

        var expected = decimal.Truncate(integral / unit.Ticks) / 1_000_000_000m;
        var q = TimeWeightedRule.Quantity(meter, s.Times, s.Levels, s.IsOverBound, Start, End, asOf);
        return records.Select(r => r.Ticks).Distinct().Count() > meter.MaxReadings
            ? q.UnpricedReason == MeterQuantity.OverBoundReason
            : q.IsPriced && q.Quantity == expected;
    }

    [Property(MaxTest = 150)]
    public bool Percentile_equals_sorting_every_bucket_of_the_period_zeros_included_or_is_over_bound_exactly_past_its_bound(int seed)
    {
        var rng = new Random(seed);
        var records = Records(rng);
        var bucket = new[] { TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(1), TimeSpan.FromHours(1), TimeSpan.FromSeconds(30) }[rng.Next(4)];
        var p = new[] { 95m, 99m, 50m, 99.9m, 0.5m, (decimal)rng.Next(1, 100) }[rng.Next(6)];
        TimeSpan? ratePer = rng.Next(2) == 0 ? null : TimeSpan.FromSeconds(1);
        var meter = new MeterDefinition { Aggregation = MeterAggregation.Percentile, Percentile = p, Bucket = bucket, RatePer = ratePer };
        var maxBuckets = rng.Next(2) == 0 ? MeterDefinition.MaxBuckets : rng.Next(1, 80);
        var s = Pipeline(rng, records, () => new PercentileState(bucket.Ticks, maxBuckets), (st, r) => st.Add(r.Ticks, r.Nanos), (a, b) => a.Merge(b),
            st => PercentileState.TryRead(st.ToBytes(), out var read, out _) ? read : throw new InvalidOperationException("round trip"));
        var asOf = rng.Next(2) == 0 ? End : Start + 1 + rng.NextInt64(End - Start - 1);

        // Reference: an array with one decimal per bucket of [start, min(end, as of)), sorted descending, the top
        // floor(N x (100 - p) / 100) skipped.
        var end = Math.Min(End, asOf);
        var first = (Start - DateTime.UnixEpoch.Ticks) / bucket.Ticks;
        var all = new decimal[(int)(((end - 1 - DateTime.UnixEpoch.Ticks) / bucket.Ticks) - first + 1)];
        foreach (var r in records.Where(r => r.Ticks < end))
        {
            all[(int)(((r.Ticks - DateTime.UnixEpoch.Ticks) / bucket.Ticks) - first)] += r.Nanos;
        }

        var billed = all.OrderDescending().ElementAt((int)Math.Floor(all.Length * (100 - p) / 100));
        var expected = (ratePer is { } per ? decimal.Truncate(billed * per.Ticks / bucket.Ticks) : billed) / 1_000_000_000m;
        var q = BurstableRule.Quantity(meter, s.Indexes, s.Sums, s.IsOverBound, Start, End, asOf);
        var buckets = records.Select(r => (r.Ticks - DateTime.UnixEpoch.Ticks) / bucket.Ticks).Distinct().Count();
        return buckets > maxBuckets ? q.UnpricedReason == MeterQuantity.OverBoundReason : q.IsPriced && q.Quantity == expected;
    }

    private sealed class Utf8Ordinal : IComparer<byte[]>
    {
        public static readonly Utf8Ordinal Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
