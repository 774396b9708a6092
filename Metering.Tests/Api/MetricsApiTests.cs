using System.Globalization;
using System.Net;
using Metering.Analytics;
using Metering.Ingest.Observability;
using Metering.Tests.Storage;
using Metering.Web.Observability;
using Microsoft.AspNetCore.TestHost;

namespace Metering.Tests.Api;

[Collection(PostgresCollection.Name)]
public sealed class MetricsApiTests(PostgresFixture postgres)
{
    /// <summary>Every series docs/operations.md documents (after the OpenTelemetry to Prometheus name translation).</summary>
    public static readonly string[] Documented =
    [
        "metering_records_read_total",
        "metering_records_accepted_total",
        "metering_records_duplicate_total",
        "metering_records_rejected_total",
        "metering_consumer_lag",
        "metering_flush_duration_seconds_bucket",
        "metering_aggregate_keys_active",
        "metering_aggregate_overflow_total",
        "metering_postgres_write_duration_seconds_bucket",
        "metering_postgres_write_errors_total",
        "metering_clickhouse_write_duration_seconds_bucket",
        "metering_clickhouse_write_errors_total",
        "metering_rated_amount_total",
        "http_server_request_duration_seconds_bucket",
    ];

    /// <summary>Every <c>metering_*</c> and <c>http_server_*</c> series named in the table of docs/operations.md: each must be exported.</summary>
    private static IEnumerable<string> SeriesInOperationsDoc()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Metering.sln")))
        {
            dir = dir.Parent;
        }

        var doc = File.ReadAllText(Path.Combine(dir!.FullName, "docs", "operations.md"));
        var names = System.Text.RegularExpressions.Regex.Matches(doc, @"^\| `((?:metering|http_server)_[a-z_]+)`", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value).ToList();
        Assert.True(names.Count >= 15, $"found only {names.Count} series in docs/operations.md");
        return names;
    }

    private static async Task<string> Scrape(ApiTestHost host)
    {
        using var response = await host.Client().GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>The value of the first sample of <paramref name="series"/> whose labels contain <paramref name="label"/>; 0 when absent.</summary>
    private static double Value(string text, string series, string label = "")
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(series, StringComparison.Ordinal) && (line.Length > series.Length && line[series.Length] is ' ' or '{') && line.Contains(label, StringComparison.Ordinal))
            {
                var value = line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0];
                return double.Parse(value, CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    [Fact]
    public async Task Metrics_expose_every_documented_series_and_values_move()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var before = await Scrape(host);
        var readBefore = Value(before, "metering_records_read_total");
        var rejectedBefore = Value(before, "metering_records_rejected_total", "reason=\"invalid_quantity\"");

        MeteringMetrics.RecordsRead(7);
        MeteringMetrics.RecordsAccepted(5);
        MeteringMetrics.RecordsDuplicate(1);
        MeteringMetrics.RecordsRejected(1, "invalid_quantity");
        MeteringMetrics.RecordsConflict(1);
        MeteringMetrics.FlushCompleted(TimeSpan.FromMilliseconds(12));
        MeteringMetrics.SetActiveAggregateKeys(4242);
        MeteringMetrics.AggregateOverflow(3);
        MeteringMetrics.CatalogRenewed("full");
        MeteringMetrics.PostgresWriteCompleted(TimeSpan.FromMilliseconds(3), failed: true);
        AnalyticsMetrics.ClickHouseWriteCompleted(TimeSpan.FromMilliseconds(4), failed: true);
        AnalyticsMetrics.RowsExported("metrics_test", 1);
        AnalyticsMetrics.PassSucceeded("metrics_test", DateTimeOffset.UtcNow, 0);
        AnalyticsMetrics.ReconcileRoundCompleted("metrics_test", DateTimeOffset.UtcNow, 0);
        // Its gauges read every live RedisDedup of the process (0 without one); the dispatcher's counters read the running dispatcher.
        System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(Metering.Redis.RedisDedupMetrics).TypeHandle);
        Metering.Web.Observability.AlertDispatchMetrics.Observe(() => (0, 0));
        MeteringMetrics.Rated(12.34m, "USD");
        MeteringMetrics.FlushDataFault();
        MeteringMetrics.RecordsIsolated(1);
        MeteringMetrics.FlushFenced();
        MeteringMetrics.ConsumerStalled();
        MeteringMetrics.DeadLettersPublished(1);
        using var stalled = MeteringMetrics.RegisterStallSource(() => 0);
        Metering.Web.HttpIngest.HttpIngestMetrics.Record("accepted", null, 1);
        Metering.Web.HttpIngest.HttpIngestMetrics.Request(202);
        Metering.Web.HttpIngest.HttpIngestMetrics.DedupLookupUnanswered();
        Metering.Web.Api.ApiMetrics.Rejected(Metering.Web.Api.ApiMetrics.RateLimited);
        using var lag = MeteringMetrics.RegisterConsumerLag(() => [new PartitionLag("usage-metrics-test", 3, 99)]);
        using (var usage = await host.Client(ApiTestHost.Token("usage:read")).GetAsync("/v1/usage?account=a&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z"))
        {
            Assert.Equal(HttpStatusCode.OK, usage.StatusCode);
        }

        var after = await Scrape(host);
        foreach (var series in Documented.Concat(SeriesInOperationsDoc()))
        {
            Assert.True(after.Contains("\n" + series, StringComparison.Ordinal), $"{series} missing from /metrics:\n{after}");
        }

        Assert.True(Value(after, "metering_records_read_total") >= readBefore + 7);
        Assert.True(Value(after, "metering_records_rejected_total", "reason=\"invalid_quantity\"") >= rejectedBefore + 1);
        Assert.Equal(99, Value(after, "metering_consumer_lag", "topic=\"usage-metrics-test\""));
        Assert.Contains("partition=\"3\"", after, StringComparison.Ordinal);
        Assert.True(Value(after, "http_server_request_duration_seconds_count", "http_route=\"/v1/usage\"") >= 1);

        lag.Dispose();
        Assert.Equal(0, Value(await Scrape(host), "metering_consumer_lag", "topic=\"usage-metrics-test\""));
    }
}

public sealed class MetricsServerTests
{
    [Fact]
    public async Task Standalone_metrics_server_exports_the_engine_counters()
    {
        await using var app = MetricsExport.BuildServer("http://127.0.0.1:0", b => b.WebHost.UseTestServer());
        await app.StartAsync();
        MeteringMetrics.RecordsRead(1);
        using var client = app.GetTestClient();
        var text = await client.GetStringAsync("/metrics");
        Assert.Contains("\nmetering_records_read_total", text, StringComparison.Ordinal);
    }
}
