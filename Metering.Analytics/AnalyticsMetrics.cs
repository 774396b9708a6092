using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Metering.Ledger.Observability;

namespace Metering.Analytics;

/// <summary>
/// The analytics export's metrics (docs/operations.md, "Metrics"): latency and failures of the ClickHouse inserts of
/// rated windows, the rows exported, the outbox rows still waiting, the time of the last successful pass, and the
/// drifts of the last reconcile round. The per-database series carry a <c>database</c> label (the ClickHouse
/// database, one per ledger: a handful per process at most). Thread-safe; never throws into the caller.
/// </summary>
public static class AnalyticsMetrics
{
    // Latency buckets in seconds: 0.5 ms .. 30 s (an insert of a large batch can take seconds).
    private static readonly double[] LatencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private static readonly Meter Meter = new(MeteringMeter.Name, MeteringMeter.Version);
    private static readonly Histogram<double> ClickHouseWrite = Meter.CreateHistogram("metering.clickhouse.write.duration", "s", "Latency of one ClickHouse insert of rated windows.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
    private static readonly Counter<long> ClickHouseErrors = Meter.CreateCounter<long>("metering.clickhouse.write.errors", "{error}", "ClickHouse inserts that failed (retried later from the outbox).");
    private static readonly Counter<long> ExportedRows = Meter.CreateCounter<long>("metering.clickhouse.export.rows", "{row}", "Outbox rows inserted into ClickHouse and marked exported, per ClickHouse database.");

    // The last observation per ClickHouse database: written after each pass or round, read at each scrape.
    private static readonly ConcurrentDictionary<string, long> Pending = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, double> LastSuccess = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, long> Drifts = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, double> LastReconcile = new(StringComparer.Ordinal);

    static AnalyticsMetrics()
    {
        Meter.CreateObservableGauge("metering.clickhouse.export.pending", () => Observe(Pending), "{row}", "Rated windows in the outbox (rated_window_blobs, and rated_windows of before migration 0021) not yet exported to ClickHouse, as of the end of the last export pass.");
        Meter.CreateObservableGauge("metering.clickhouse.export.last_success", () => Observe(LastSuccess), "s", "Unix time of the last export pass that succeeded (export lag: time() minus this).");
        Meter.CreateObservableGauge("metering.reconcile.drifts", () => Observe(Drifts), "{total}", "(account, SKU, period) totals whose ClickHouse sums differed from PostgreSQL in the last reconcile round.");
        Meter.CreateObservableGauge("metering.reconcile.last_run", () => Observe(LastReconcile), "s", "Unix time of the last reconcile round that completed.");
    }

    /// <summary>Records one ClickHouse write's latency; <paramref name="failed"/> also counts an error.</summary>
    public static void ClickHouseWriteCompleted(TimeSpan duration, bool failed = false)
    {
        ClickHouseWrite.Record(duration.TotalSeconds);
        if (failed)
        {
            ClickHouseErrors.Add(1);
        }
    }

    /// <summary>Counts <paramref name="rows"/> outbox rows exported into <paramref name="database"/>.</summary>
    public static void RowsExported(string database, long rows) => ExportedRows.Add(rows, new KeyValuePair<string, object?>("database", database));

    /// <summary>A pass into <paramref name="database"/> succeeded at <paramref name="at"/>, leaving <paramref name="pendingRows"/> in the outbox.</summary>
    public static void PassSucceeded(string database, DateTimeOffset at, long pendingRows)
    {
        ArgumentNullException.ThrowIfNull(database);
        Pending[database] = pendingRows;
        LastSuccess[database] = at.ToUnixTimeMilliseconds() / 1000.0;
    }

    /// <summary>A reconcile round of <paramref name="database"/> completed at <paramref name="at"/> with <paramref name="drifts"/> drifted totals.</summary>
    public static void ReconcileRoundCompleted(string database, DateTimeOffset at, long drifts)
    {
        ArgumentNullException.ThrowIfNull(database);
        Drifts[database] = drifts;
        LastReconcile[database] = at.ToUnixTimeMilliseconds() / 1000.0;
    }

    private static IEnumerable<Measurement<T>> Observe<T>(ConcurrentDictionary<string, T> values)
        where T : struct
    {
        foreach (var (database, value) in values)
        {
            yield return new Measurement<T>(value, new KeyValuePair<string, object?>("database", database));
        }
    }
}
