using System.Diagnostics.Metrics;
using Metering.Ledger.Observability;

namespace Metering.Analytics;

/// <summary>
/// The analytics export's metrics (docs/operations.md, "Metrics"): latency and failures of the ClickHouse inserts of
/// rated windows. Thread-safe; never throws into the caller.
/// </summary>
public static class AnalyticsMetrics
{
    // Latency buckets in seconds: 0.5 ms .. 30 s (an insert of a large batch can take seconds).
    private static readonly double[] LatencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private static readonly Meter Meter = new(MeteringMeter.Name, MeteringMeter.Version);
    private static readonly Histogram<double> ClickHouseWrite = Meter.CreateHistogram("metering.clickhouse.write.duration", "s", "Latency of one ClickHouse insert of rated windows.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
    private static readonly Counter<long> ClickHouseErrors = Meter.CreateCounter<long>("metering.clickhouse.write.errors", "{error}", "ClickHouse inserts that failed (retried later from the outbox).");

    /// <summary>Records one ClickHouse write's latency; <paramref name="failed"/> also counts an error.</summary>
    public static void ClickHouseWriteCompleted(TimeSpan duration, bool failed = false)
    {
        ClickHouseWrite.Record(duration.TotalSeconds);
        if (failed)
        {
            ClickHouseErrors.Add(1);
        }
    }
}
