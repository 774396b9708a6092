using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Records;

namespace Metering.Benchmarks.Aggregation;

/// <summary>
/// Aggregate updates per second with 1 and 2 writer threads: the lock-free <see cref="Aggregator"/> against a
/// <see cref="ConcurrentDictionary{TKey,TValue}"/> of the same key doing the same work (count, sum, min, max),
/// the baseline in the same run. Keys follow the workload's Zipf skew over 100k accounts x 8 SKUs.
/// </summary>
[MemoryDiagnoser]
public class AggregateBenchmarks
{
    private const int Updates = 1 << 20;
    private UsageRecord[] _records = [];
    private Aggregator _aggregator = null!;
    private AggregateWriter[] _writers = [];
    private ConcurrentDictionary<(int, int, uint, int), Totals> _dictionary = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    private readonly record struct Totals(long Count, decimal Sum, long Min, long Max);

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        _records = new UsageRecord[Updates];
        var start = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;
        for (var i = 0; i < Updates; i++)
        {
            // Zipf-like: account rank ~ 1/u, capped at 100k.
            var account = (int)Math.Min(100_000, 1 / Math.Max(random.NextDouble(), 1e-5));
            _records[i] = new UsageRecord
            {
                AccountId = account,
                SkuId = random.Next(1, 9),
                QuantityNanos = random.NextInt64(1, 1_000_000_000_000),
                TimeTicks = start + (i * TimeSpan.TicksPerMillisecond / 10),
            };
        }

        _aggregator = new Aggregator(new AggregatorOptions { KeyLimit = 2_000_000 });
        _writers = [_aggregator.CreateWriter(), _aggregator.CreateWriter()];
        _dictionary = new ConcurrentDictionary<(int, int, uint, int), Totals>(Environment.ProcessorCount, 1_000_000);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Updates)]
    public void ConcurrentDictionary_AddOrUpdate() => RunOnThreads((from, to, _) =>
    {
        var windows = TumblingWindows.OneMinute;
        for (var i = from; i < to; i++)
        {
            ref readonly var r = ref _records[i];
            var q = r.QuantityNanos;
            _dictionary.AddOrUpdate(
                (r.AccountId, r.SkuId, windows.IndexOf(r.TimeTicks), r.DimensionSetId),
                static (_, q) => new Totals(1, q, q, q),
                static (_, t, q) => new Totals(t.Count + 1, t.Sum + q, Math.Min(t.Min, q), Math.Max(t.Max, q)),
                q);
        }
    });

    [Benchmark(OperationsPerInvoke = Updates)]
    public void Aggregator_Add() => RunOnThreads((from, to, writer) =>
    {
        writer.BeginBatch();
        for (var i = from; i < to; i++)
        {
            writer.Add(in _records[i]);
        }

        writer.EndBatch();
    });

    private void RunOnThreads(Action<int, int, AggregateWriter> work)
    {
        if (Threads == 1)
        {
            work(0, Updates, _writers[0]);
            return;
        }

        // Each thread takes half of one Zipf-skewed stream, so both hit the hot accounts: the contended case.
        var half = Updates / 2;
        var other = new Thread(() => work(half, Updates, _writers[1]));
        other.Start();
        work(0, half, _writers[0]);
        other.Join();
    }
}
