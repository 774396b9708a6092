using System.Diagnostics.Metrics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Metering.Analytics;
using Metering.Analytics.ChDb;
using Metering.Cli.Hosting;
using Metering.Ledger.Migrations;
using Metering.Ledger.Observability;
using Metering.Tests.Analytics;
using Metering.Tests.Storage;
using Metering.Web.Observability;
using Npgsql;

namespace Metering.Tests.Operators;

/// <summary>
/// The chart's Grafana dashboard and Prometheus rules (helm/metering/files) name only series the code exports: every
/// name is one of the Prometheus names of the instruments the <c>Metering</c> meter declares, and that naming is
/// checked against a real scrape of an export host.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed partial class MonitoringContentTests(PostgresFixture postgres)
{
    private static readonly string Files = Path.Combine(RepositoryRoot(), "helm", "metering", "files");

    [Fact]
    public async Task Every_series_the_dashboard_and_the_alert_rules_use_is_one_the_code_exports()
    {
        var declared = DeclaredSeries();

        // The declared names are the scrape's names: a real export host, scraped over loopback, shows its series
        // exactly under the names derived from the instruments (no series the derivation does not know).
        var scrape = await ScrapeAnExportHostAsync();
        var scraped = Scrape.Names(scrape).Where(n => n.StartsWith("metering_", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
        Assert.Empty(scraped.Except(declared));
        foreach (var name in new[] { "metering_clickhouse_export_rows_total", "metering_clickhouse_export_pending", "metering_clickhouse_export_last_success_seconds",
            "metering_clickhouse_write_duration_seconds_bucket", "metering_reconcile_drifts", "metering_reconcile_last_run_seconds" })
        {
            Assert.Contains(name, scraped);
        }

        var dashboard = DashboardSeries();
        var rules = RuleSeries();
        Assert.True(dashboard.Count >= 20, $"the dashboard queries {dashboard.Count} series");
        Assert.True(rules.Count >= 15, $"the rules query {rules.Count} series");
        Assert.Empty(dashboard.Except(declared));
        Assert.Empty(rules.Except(declared));

        // The issue's list, each on the dashboard and in a rule: lag, flush latency and errors, dead letters,
        // conservation, reconcile drift, Redis degraded dedup, ClickHouse export lag.
        foreach (var name in new[] { "metering_consumer_lag", "metering_flush_duration_seconds_bucket", "metering_postgres_write_errors_total", "metering_records_rejected_total",
            "metering_records_read_total", "metering_records_accepted_total", "metering_records_duplicate_total", "metering_reconcile_drifts", "metering_redis_dedup_degraded",
            "metering_clickhouse_export_last_success_seconds" })
        {
            Assert.Contains(name, dashboard);
            Assert.Contains(name, rules);
        }
    }

    [Fact]
    public void A_series_name_the_code_does_not_export_is_caught()
    {
        // The check above is only as good as the name extraction: a misspelt series must come out as a name that is not declared.
        var names = SeriesIn("sum(rate(metering_records_rejectd_total[5m])) / ignoring(x) metering_flush_duration_seconds_bucket");
        Assert.Equal(["metering_flush_duration_seconds_bucket", "metering_records_rejectd_total"], names.Order(StringComparer.Ordinal));
        Assert.Equal(["metering_records_rejectd_total"], names.Except(DeclaredSeries()));
    }

    /// <summary>The Prometheus names of every instrument of the <c>Metering</c> meter (OpenTelemetry's Prometheus naming).</summary>
    private static HashSet<string> DeclaredSeries()
    {
        // Instruments exist once their type's static constructor ran: run every one that holds a Meter.
        foreach (var assembly in new[] { typeof(MeteringMeter), typeof(AnalyticsMetrics), typeof(MetricsExport), typeof(Metering.Ingest.Observability.MeteringMetrics), typeof(Metering.Redis.RedisDedup) }.Select(t => t.Assembly))
        {
            foreach (var type in assembly.GetTypes().Where(t => t.GetFields(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public).Any(f => f.FieldType == typeof(Meter))))
            {
                RuntimeHelpers.RunClassConstructor(type.TypeHandle);
            }
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, _) =>
        {
            if (instrument.Meter.Name != MeteringMeter.Name)
            {
                return;
            }

            var unit = instrument.Unit switch { "s" => "_seconds", "By" => "_bytes", _ => "" };
            var name = instrument.Name.Replace('.', '_') + unit;
            var type = instrument.GetType().GetGenericTypeDefinition();
            if (type == typeof(Counter<>) || type == typeof(ObservableCounter<>))
            {
                names.Add(name + "_total");
            }
            else if (type == typeof(Histogram<>))
            {
                names.UnionWith([name + "_bucket", name + "_count", name + "_sum"]);
            }
            else
            {
                names.Add(name);
            }
        };
        listener.Start();
        Assert.True(names.Count > 30, $"only {names.Count} series declared");
        return names;
    }

    private async Task<string> ScrapeAnExportHostAsync()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        await OutboxSeeder.SeedAsync(db, 50, seed: 71, accounts: ["acct-n"]);
        using var transport = new ChDbTransport(ChDbShared.Session, ownsSession: false);
        var host = new ExportHost(db, transport, new AnalyticsSchema(ChDbShared.NewDatabaseName()), 1000, TimeSpan.FromMilliseconds(100), TimeSpan.Zero, 2, TextWriter.Null);
        var port = Scrape.FreePort();
        await using var metrics = MetricsExport.BuildServer($"http://127.0.0.1:{port}", ready: _ => Task.FromResult(host.Readiness));
        await metrics.StartAsync();
        using var stop = new CancellationTokenSource();
        var running = host.RunAsync(stop.Token);
        await Scrape.UntilAsync(() => Task.FromResult(host.Exporter.LastSuccess is not null), TimeSpan.FromSeconds(60), () => "no export pass succeeded: " + host.Exporter.LastError);
        await stop.CancelAsync();
        await running;
        Assert.Equal(0, await host.ReconcileOnceAsync(CancellationToken.None));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        return await http.GetStringAsync("/metrics");
    }

    private static HashSet<string> DashboardSeries()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Files, "grafana-dashboard.json")));
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var panel in dashboard.RootElement.GetProperty("panels").EnumerateArray())
        {
            if (panel.TryGetProperty("targets", out var targets))
            {
                foreach (var target in targets.EnumerateArray())
                {
                    names.UnionWith(SeriesIn(target.GetProperty("expr").GetString()!));
                }
            }
        }

        return names;
    }

    private static HashSet<string> RuleSeries()
    {
        // expr: one line, or a folded block (expr: >) whose more-indented lines follow.
        var lines = File.ReadAllLines(Path.Combine(Files, "prometheus-rules.yaml"));
        var names = new HashSet<string>(StringComparer.Ordinal);
        var exprs = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var m = ExprLine().Match(lines[i]);
            if (!m.Success)
            {
                continue;
            }

            exprs++;
            var text = m.Groups[2].Value;
            if (text is ">" or "|")
            {
                var indent = m.Groups[1].Value.Length;
                for (i++; i < lines.Length && (lines[i].Length - lines[i].TrimStart().Length) > indent; i++)
                {
                    text += " " + lines[i];
                }

                i--;
            }

            names.UnionWith(SeriesIn(text));
        }

        Assert.True(exprs >= 10, $"{exprs} rules found");
        return names;
    }

    // Identifiers of our series in a PromQL expression (label values and names in braces or by (...) are not ours).
    private static HashSet<string> SeriesIn(string expr) => [.. SeriesName().Matches(expr).Select(m => m.Value)];

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Metering.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("no Metering.sln above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"\bmetering_[a-z0-9_]+")]
    private static partial Regex SeriesName();

    [GeneratedRegex(@"^(\s*)expr:\s*(.*)$")]
    private static partial Regex ExprLine();
}
