using System.Text;
using BenchmarkDotNet.Attributes;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Meters;

namespace Metering.Benchmarks.Meters;

/// <summary>
/// Each meter's per-record update next to sum's, in one run: 65,536 records of one (account, SKU) over an hour, in
/// time order with every tenth record up to a minute late (the shape of one key's window stream). Each invocation starts
/// from empty states, so growth (the unique set doubling, readings and buckets appending) is in the numbers, amortised
/// per record. The baseline is the sum as a plain 128-bit add; <see cref="Sum_AggregateTable"/> is the engine's real
/// lock-free slot update (Interlocked count, sum with carry, min, max, first and last time) for the same records.
/// </summary>
[MemoryDiagnoser]
public class MeterUpdateBenchmarks
{
    private const int Records = 1 << 16;
    private static readonly long Start = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;
    private readonly long[] _ticks = new long[Records];
    private readonly long[] _nanos = new long[Records];
    private readonly byte[][] _ids = new byte[Records][];
    private readonly byte[][] _values = new byte[Records][];
    private readonly UInt128[] _fingerprints = new UInt128[Records];
    private AggregateTable _table = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(11);
        for (var i = 0; i < Records; i++)
        {
            var late = i % 10 == 0 ? random.NextInt64(TimeSpan.TicksPerMinute) : 0;
            _ticks[i] = Math.Max(Start, Start + (i * (TimeSpan.TicksPerHour / Records)) - late);
            _nanos[i] = random.NextInt64(1, 1_000_000_000_000);
            _ids[i] = Encoding.UTF8.GetBytes($"evt-{random.Next():x8}-{i}");
            _values[i] = Encoding.UTF8.GetBytes($"user-{random.Next(1000)}"); // 1,000 distinct users
            _fingerprints[i] = UniqueCountState.Fingerprint(_values[i]);
        }

        _table = new AggregateTable(1024);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Records)]
    public Int128 Sum()
    {
        Int128 sum = 0;
        long count = 0;
        for (var i = 0; i < Records; i++)
        {
            sum += _nanos[i];
            count++;
        }

        return sum + count;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public long Sum_AggregateTable()
    {
        for (var i = 0; i < Records; i++)
        {
            _table.Add(1, 1, 0, 0, _nanos[i], (uint)((_ticks[i] - Start) / 10));
        }

        return _table.KeyCount;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public long Count_Max_Min()
    {
        var s = ExtremaState.Empty;
        for (var i = 0; i < Records; i++)
        {
            s.Add(_nanos[i]);
        }

        return s.MaxNanos - s.MinNanos + s.Count;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public long Latest()
    {
        var s = default(LatestState);
        for (var i = 0; i < Records; i++)
        {
            s.Add(_ticks[i], _ids[i], _nanos[i]);
        }

        return s.ValueNanos;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public int UniqueCount()
    {
        var s = new UniqueCountState(100_000);
        for (var i = 0; i < Records; i++)
        {
            s.Add(_fingerprints[i]);
        }

        return s.Count;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public int UniqueCount_hashing_the_value()
    {
        var s = new UniqueCountState(100_000);
        for (var i = 0; i < Records; i++)
        {
            s.Add(UniqueCountState.Fingerprint(_values[i]));
        }

        return s.Count;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public int TimeWeighted()
    {
        var s = new TimeWeightedState(100_000);
        for (var i = 0; i < Records; i++)
        {
            s.Add(_ticks[i], _nanos[i]);
        }

        return s.Count;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public int Percentile()
    {
        var s = new PercentileState(TimeSpan.TicksPerMinute * 5, 1 << 20);
        for (var i = 0; i < Records; i++)
        {
            s.Add(_ticks[i], _nanos[i]);
        }

        return s.Count;
    }
}
