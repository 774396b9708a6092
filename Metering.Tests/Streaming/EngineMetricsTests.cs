using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Tests.Storage;
using Metering.Web.Observability;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>The engine feeds the documented Prometheus series (served from its own process by MetricsExport).</summary>
[Collection(PostgresCollection.Name)]
public sealed partial class EngineMetricsTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    private static double Sum(string scrape, string series) =>
        SeriesLine().Matches(scrape).Where(m => m.Groups[1].Value == series).Sum(m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));

    [GeneratedRegex(@"^([a-z_]+)(?:\{[^}]*\})? ([0-9.eE+-]+)", RegexOptions.Multiline)]
    private static partial Regex SeriesLine();

    [Fact]
    public async Task A_running_engine_moves_the_record_flush_and_postgres_series_on_its_metrics_endpoint()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var metrics = MetricsExport.BuildServer($"http://127.0.0.1:{port}");
        await metrics.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var before = await http.GetStringAsync("/metrics");

        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        _kafka.CreateTopic("engine-metrics", 2, 1);
        using var workload = new MemoryStream();
        var truth = new SyntheticWorkloadGenerator(new WorkloadOptions { Records = 5_000, Accounts = 100, DuplicateShare = 0.05, BadShare = 0.02 }).Generate(workload);
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, "engine-metrics", new MemoryStream(workload.ToArray()), null, CancellationToken.None);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = "engine-metrics", FlushInterval = TimeSpan.FromMilliseconds(200) };
        using var stop = new CancellationTokenSource();
        var run = Task.Factory.StartNew(() => new StreamingEngine(options, db, null).RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < truth.Read && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        var during = await http.GetStringAsync("/metrics"); // scraped while the engine still runs: lag is reported
        await stop.CancelAsync();
        await run;
        var after = await http.GetStringAsync("/metrics");

        // Other tests in this process feed the same static meter, so compare increases, with >= for the shared ones.
        Assert.True(Sum(after, "metering_records_read_total") - Sum(before, "metering_records_read_total") >= truth.Read);
        Assert.True(Sum(after, "metering_records_duplicate_total") - Sum(before, "metering_records_duplicate_total") >= truth.Duplicates);
        Assert.True(Sum(after, "metering_records_rejected_total") - Sum(before, "metering_records_rejected_total") >= truth.Rejected.Values.Sum());
        Assert.Matches("metering_records_rejected_total\\{[^}]*reason=\"", after);
        Assert.True(Sum(after, "metering_flush_duration_seconds_count") > Sum(before, "metering_flush_duration_seconds_count"));
        Assert.True(Sum(after, "metering_postgres_write_duration_seconds_count") > Sum(before, "metering_postgres_write_duration_seconds_count"));
        Assert.Matches("metering_consumer_lag\\{[^}]*topic=\"engine-metrics\"", during);
    }
}
