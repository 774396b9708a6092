using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Records;

namespace Metering.UnitTests.Aggregation;

public class AggregatorTests
{
    private static readonly long Start = new DateTime(2026, 11, 24, 10, 0, 0, DateTimeKind.Utc).Ticks;

    private static UsageRecord Record(int account, int sku, long nanos, long ticks) =>
        new() { AccountId = account, SkuId = sku, QuantityNanos = nanos, TimeTicks = ticks };

    [Fact]
    public void Ten_million_additions_of_a_tenth_sum_to_exactly_one_million()
    {
        var aggregator = new Aggregator(new AggregatorOptions());
        var writer = aggregator.CreateWriter();
        var tenth = Record(1, 1, 100_000_000, Start);
        writer.BeginBatch();
        for (var i = 0; i < 10_000_000; i++)
        {
            writer.Add(in tenth);
        }

        writer.EndBatch();
        var row = Assert.Single(aggregator.Flush());
        Assert.Equal("1000000", FixedPoint.Format(row.SumNanos));
        Assert.Equal(10_000_000, row.Count);
    }

    [Fact]
    public void The_last_flush_returns_the_same_rows_as_a_generation_swap_without_allocating_a_fresh_table()
    {
        static void Fill(Aggregator aggregator)
        {
            var writer = aggregator.CreateWriter();
            writer.BeginBatch();
            for (var i = 0; i < 1_000; i++)
            {
                writer.Add(Record(1 + (i % 7), 1 + (i % 3), 1_000 + i, Start + (i * TimeSpan.TicksPerSecond)));
            }

            writer.EndBatch();
        }

        var swapped = new Aggregator(new AggregatorOptions { KeyLimit = 10_000 });
        var last = new Aggregator(new AggregatorOptions { KeyLimit = 10_000 });
        Fill(swapped);
        Fill(last);

        var expected = swapped.Flush().OrderBy(r => (r.AccountId, r.SkuId, r.WindowIndex)).ToList();
        var actual = last.FlushLast().OrderBy(r => (r.AccountId, r.SkuId, r.WindowIndex)).ToList();

        Assert.Equal(expected, actual);
        Assert.Equal(1_000L, actual.Sum(r => r.Count));
    }

    [Fact]
    public void Sums_carry_past_64_bits_exactly()
    {
        var aggregator = new Aggregator(new AggregatorOptions());
        var writer = aggregator.CreateWriter();
        writer.BeginBatch();
        for (var i = 0; i < 5; i++)
        {
            writer.Add(Record(1, 1, long.MaxValue, Start));
        }

        writer.EndBatch();
        var row = Assert.Single(aggregator.Flush());
        Assert.Equal((Int128)long.MaxValue * 5, row.SumNanos);
        Assert.Equal(long.MaxValue, row.MinNanos);
    }

    [Fact]
    public async Task Writers_and_a_concurrent_flusher_lose_and_duplicate_nothing()
    {
        const int Writers = 4;
        const int PerWriter = 200_000;
        var aggregator = new Aggregator(new AggregatorOptions { KeyLimit = 100_000 });
        var flushed = new List<AggregateRow>();
        using var stop = new CancellationTokenSource();
        using var flushing = new ManualResetEventSlim();
        var flusher = Task.Factory.StartNew(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                flushed.AddRange(aggregator.Flush());
                flushing.Set();
                Thread.Yield();
            }
        }, TaskCreationOptions.LongRunning);

        var expected = new Dictionary<(int, int, uint), (long Count, Int128 Sum, long Min, long Max)>();
        var inputs = new UsageRecord[Writers][];
        var random = new Random(5);
        for (var w = 0; w < Writers; w++)
        {
            inputs[w] = new UsageRecord[PerWriter];
            for (var i = 0; i < PerWriter; i++)
            {
                var r = Record(random.Next(1, 200), random.Next(1, 4), random.NextInt64(0, 5_000_000_000), Start + (random.Next(0, 300) * TimeSpan.TicksPerSecond));
                inputs[w][i] = r;
                var key = (r.AccountId, r.SkuId, TumblingWindows.OneMinute.IndexOf(r.TimeTicks));
                var e = expected.GetValueOrDefault(key, (0, 0, long.MaxValue, long.MinValue));
                expected[key] = (e.Count + 1, e.Sum + r.QuantityNanos, Math.Min(e.Min, r.QuantityNanos), Math.Max(e.Max, r.QuantityNanos));
            }
        }

        flushing.Wait(TimeSpan.FromSeconds(10));
        var flushesBefore = aggregator.Flushes;
        Parallel.For(0, Writers, new ParallelOptions { MaxDegreeOfParallelism = Writers }, w =>
        {
            var writer = aggregator.CreateWriter();
            for (var i = 0; i < PerWriter; i += 256)
            {
                writer.BeginBatch();
                for (var j = i; j < Math.Min(i + 256, PerWriter); j++)
                {
                    Assert.Equal(AddStatus.Added, writer.Add(in inputs[w][j]));
                }

                writer.EndBatch();
            }
        });
        var flushesDuringWrites = aggregator.Flushes - flushesBefore;
        stop.Cancel();
        await flusher;
        flushed.AddRange(aggregator.Flush());

        var actual = new Dictionary<(int, int, uint), (long Count, Int128 Sum, long Min, long Max)>();
        foreach (var row in flushed)
        {
            var key = (row.AccountId, row.SkuId, row.WindowIndex);
            var a = actual.GetValueOrDefault(key, (0, 0, long.MaxValue, long.MinValue));
            actual[key] = (a.Count + row.Count, a.Sum + row.SumNanos, Math.Min(a.Min, row.MinNanos), Math.Max(a.Max, row.MaxNanos));
        }

        Assert.True(flushesDuringWrites > 1, $"the flusher should have run during the writes ({flushesDuringWrites} flushes)");
        Assert.Equal(expected.Count, actual.Count);
        foreach (var (key, e) in expected)
        {
            Assert.Equal(e, actual[key]);
        }
    }

    [Fact]
    public void Records_are_assigned_to_half_open_windows_with_first_and_last_times()
    {
        var aggregator = new Aggregator(new AggregatorOptions());
        var writer = aggregator.CreateWriter();
        var lastTickOfFirstMinute = Start + TimeSpan.TicksPerMinute - 1;
        writer.BeginBatch();
        writer.Add(Record(1, 1, 1, Start + (5 * TimeSpan.TicksPerSecond)));
        writer.Add(Record(1, 1, 1, lastTickOfFirstMinute));
        writer.Add(Record(1, 1, 1, Start + TimeSpan.TicksPerMinute));
        writer.EndBatch();
        var rows = aggregator.Flush().OrderBy(r => r.WindowIndex).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal(2, rows[0].Count);
        Assert.Equal(1, rows[1].Count);
        Assert.Equal(Start, aggregator.Windows.StartTicks(rows[0].WindowIndex));
        Assert.Equal(Start + (5 * TimeSpan.TicksPerSecond), rows[0].FirstTicks);
        Assert.Equal(lastTickOfFirstMinute / 10 * 10, rows[0].LastTicks); // microsecond resolution
        Assert.Equal(Start + TimeSpan.TicksPerMinute, rows[1].FirstTicks);
    }

    [Fact]
    public void New_keys_past_the_limit_are_refused_and_counted_until_a_flush()
    {
        var aggregator = new Aggregator(new AggregatorOptions { KeyLimit = 3 });
        var writer = aggregator.CreateWriter();
        writer.BeginBatch();
        for (var a = 1; a <= 3; a++)
        {
            Assert.Equal(AddStatus.Added, writer.Add(Record(a, 1, 1, Start)));
        }

        Assert.Equal(AddStatus.KeyLimitReached, writer.Add(Record(4, 1, 1, Start)));
        Assert.Equal(AddStatus.Added, writer.Add(Record(2, 1, 1, Start))); // existing keys still update
        writer.EndBatch();
        Assert.Equal(1, aggregator.KeyLimitHits);
        Assert.Equal(3, aggregator.Flush().Count);
        writer.BeginBatch();
        Assert.Equal(AddStatus.Added, writer.Add(Record(4, 1, 1, Start)));
        writer.EndBatch();
    }

    [Theory]
    [InlineData(7)]
    [InlineData(7200)]
    [InlineData(0)]
    [InlineData(2700)] // 45 minutes divide a day but not an hour: a window would straddle a whole hour
    public void Window_lengths_that_do_not_divide_an_hour_or_exceed_an_hour_are_refused(int seconds) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new TumblingWindows(TimeSpan.FromSeconds(seconds)));
}
