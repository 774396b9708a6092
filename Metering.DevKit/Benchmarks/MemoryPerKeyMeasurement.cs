using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Records;

namespace Metering.DevKit.Benchmarks;

/// <summary>
/// Managed memory per active aggregate key: one generation filled with N distinct keys, the managed heap measured
/// (after full collections) before and after. The number the README's key-limit sizing is based on.
/// </summary>
public static class MemoryPerKeyMeasurement
{
    /// <summary>What <see cref="Keys"/> active keys cost on the managed heap, in <see cref="Bytes"/>.</summary>
    public sealed record Result(int Keys, long Bytes)
    {
        /// <summary>Managed bytes per active key.</summary>
        public double BytesPerKey => (double)Bytes / Keys;

        /// <summary>The whole cost in MiB (2^20 bytes).</summary>
        public double Mebibytes => Bytes / 1048576.0;
    }

    /// <summary>Fills one generation with <paramref name="keys"/> distinct keys (1..100,000,000) and measures it.</summary>
    public static Result Measure(int keys)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keys, 1);
        GC.Collect(2, GCCollectionMode.Forced, true, true);
        var before = GC.GetTotalMemory(true);
        var aggregator = new Aggregator(new AggregatorOptions { KeyLimit = keys });
        var writer = aggregator.CreateWriter();
        writer.BeginBatch();
        var record = new UsageRecord { QuantityNanos = 1_000_000_000, TimeTicks = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc).Ticks };
        for (var k = 0; k < keys; k++)
        {
            record.AccountId = (k % 1_000_000) + 1;
            record.SkuId = (k / 1_000_000) + 1;
            if (writer.Add(in record) != AddStatus.Added)
            {
                throw new InvalidOperationException("memory measurement hit the key limit");
            }
        }

        writer.EndBatch();
        var after = GC.GetTotalMemory(true);
        GC.KeepAlive(aggregator);
        return new Result(keys, after - before);
    }
}
