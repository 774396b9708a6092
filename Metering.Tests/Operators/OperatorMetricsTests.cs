using System.Net;
using Metering.Cli.Arguments;
using Metering.Cli.Commands;
using Metering.Ledger.Migrations;
using Metering.Tests.Alerts;
using Metering.Tests.Analytics;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Operators;

/// <summary>
/// <c>metering export --follow</c> and <c>metering alerts dispatch</c> serve their own <c>/metrics</c>, <c>/healthz</c>
/// and <c>/readyz</c>: the commands run in-process, scraped over loopback.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class OperatorMetricsTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Export_follow_serves_metrics_that_count_exactly_the_rows_it_exported_and_is_ready_after_a_pass()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        await OutboxSeeder.SeedAsync(db, 300, seed: 81, accounts: ["acct-m"]);
        _ = ChDbShared.Session; // the process's chDB session stays open for the other tests when the command closes its own
        var database = ChDbShared.NewDatabaseName();
        var port = Scrape.FreePort();
        using var stop = new CancellationTokenSource();
        var command = new ExportCommand().RunAsync(CliArguments.Parse(["--follow", "--interval", "200ms", "--metrics-listen", $"http://127.0.0.1:{port}",
            "--reconcile-every", "300ms", "--pg", cs, "--clickhouse-dir", ChDbShared.Directory, "--clickhouse-database", database], _ => null), stop.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        var label = $"database=\"{database}\"";
        try
        {
            var scrape = "";
            await Scrape.UntilAsync(async () =>
            {
                Assert.False(command.IsCompleted, "the export command ended early");
                scrape = (await Scrape.TryGetAsync(http, "/metrics"))?.Body ?? "";
                return Scrape.Value(scrape, "metering_clickhouse_export_rows_total", label) == 300
                    && Scrape.Value(scrape, "metering_reconcile_drifts", label) is not null;
            }, TimeSpan.FromSeconds(60), () => "the export's /metrics never showed the 300 exported rows and a reconcile round:\n" + scrape);

            Assert.Equal(0, Scrape.Value(scrape, "metering_clickhouse_export_pending", label));
            Assert.Equal(0, Scrape.Value(scrape, "metering_reconcile_drifts", label));
            var lastSuccess = Scrape.Value(scrape, "metering_clickhouse_export_last_success_seconds", label);
            Assert.NotNull(lastSuccess);
            Assert.InRange((double)lastSuccess.Value, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
            Assert.NotNull(Scrape.Value(scrape, "metering_clickhouse_write_duration_seconds_count"));
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/readyz")).StatusCode);

            // More rows committed to the outbox: the counter moves by exactly them.
            await OutboxSeeder.SeedAsync(db, 45, seed: 82, accounts: ["acct-m"]);
            await Scrape.UntilAsync(async () => Scrape.Value(scrape = await http.GetStringAsync("/metrics"), "metering_clickhouse_export_rows_total", label) == 345,
                TimeSpan.FromSeconds(60), () => "the counter never reached 345:\n" + scrape);
        }
        finally
        {
            await stop.CancelAsync();
        }

        Assert.Equal(0, await command);
    }

    [Fact]
    public async Task Export_readiness_is_503_naming_the_failure_while_no_pass_succeeds_and_liveness_stays_200()
    {
        // ClickHouse unreachable (a port nothing listens on): every pass fails, rows wait in the outbox, /readyz says why.
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        var port = Scrape.FreePort();
        using var stop = new CancellationTokenSource();
        var command = new ExportCommand().RunAsync(CliArguments.Parse(["--follow", "--interval", "200ms", "--metrics-listen", $"http://127.0.0.1:{port}",
            "--pg", cs, "--clickhouse-url", $"http://127.0.0.1:{Scrape.FreePort()}/", "--clickhouse-database", ChDbShared.NewDatabaseName()], _ => null), stop.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            var body = "";
            await Scrape.UntilAsync(async () =>
            {
                Assert.False(command.IsCompleted, "the export command ended early");
                if (await Scrape.TryGetAsync(http, "/readyz") is not { } ready)
                {
                    return false;
                }

                body = ready.Body;
                Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.Status);
                return body.Contains("the last export pass failed", StringComparison.Ordinal);
            }, TimeSpan.FromSeconds(60), () => "/readyz never named the failed pass: " + body);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        }
        finally
        {
            await stop.CancelAsync();
        }

        Assert.Equal(0, await command);
    }

    [Fact]
    public async Task Alerts_dispatch_serves_metrics_that_count_its_rounds_and_is_ready_while_the_outbox_answers()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        using var webhook = new RecordingWebhook();
        var port = Scrape.FreePort();
        using var stop = new CancellationTokenSource();
        var command = new AlertsDispatchCommand().RunAsync(CliArguments.Parse(["--webhook", webhook.Url.ToString(), "--interval", "200ms",
            "--metrics-listen", $"http://127.0.0.1:{port}", "--pg", cs], _ => null), stop.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            var scrape = "";
            await Scrape.UntilAsync(async () =>
            {
                Assert.False(command.IsCompleted, "the dispatch command ended early");
                return (await Scrape.TryGetAsync(http, "/readyz"))?.Status == HttpStatusCode.OK;
            }, TimeSpan.FromSeconds(60), () => "the dispatcher never became ready");
            scrape = (await Scrape.TryGetAsync(http, "/metrics"))?.Body ?? "";
            Assert.Equal(0, Scrape.Value(scrape, "metering_alerts_rounds_total"));

            // Two alerts become due: one round delivers both to the webhook, and the counter moves.
            foreach (var quota in new[] { 1L, 2L })
            {
                await using var cmd = db.CreateCommand("""
                    INSERT INTO alerts (alert_key, quota_id, account, sku, metric, threshold, value_before, value_at_crossing, currency, period_start, period_end)
                    VALUES ($1 || ':2026-11-01T00:00:00Z', $1, 'acct-' || $1, 'api.calls', 'quantity', 1500, 1400.5, 1600, NULL, '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z')
                    """);
                cmd.Parameters.Add(new() { Value = quota });
                await cmd.ExecuteNonQueryAsync();
            }

            await Scrape.UntilAsync(async () =>
            {
                Assert.False(command.IsCompleted, "the dispatch command ended early");
                scrape = (await Scrape.TryGetAsync(http, "/metrics"))?.Body ?? "";
                return Scrape.Value(scrape, "metering_alerts_rounds_total") >= 1;
            }, TimeSpan.FromSeconds(60), () => "the dispatcher's /metrics never counted a round:\n" + scrape);
            Assert.Equal(2, webhook.Requests.Count);
            Assert.Equal(0, Scrape.Value(scrape, "metering_alerts_failed_rounds_total"));
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        }
        finally
        {
            await stop.CancelAsync();
        }

        Assert.Equal(0, await command);
    }
}
