using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Metering.Cli.Arguments;
using Metering.Cli.Commands;
using Metering.Ledger.Migrations;
using Metering.Tests.Analytics;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Metering.Web.Api;
using Npgsql;

namespace Metering.Tests.Operators;

/// <summary>
/// <c>metering serve</c> with embedded chDB hosts the analytics export itself (chDB allows one process per data
/// directory, so a separate <c>metering export</c> could not open it while serve runs).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ServeExportTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Serve_with_embedded_chdb_exports_the_outbox_itself_and_usage_answers_the_rows_without_an_export_process()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        var seeded = await OutboxSeeder.SeedAsync(db, 400, seed: 91, accounts: ["acct-s"]);
        _ = ChDbShared.Session; // shared with the other tests of this process
        var port = Scrape.FreePort();
        using var stop = new CancellationTokenSource();
        var serve = new ServeCommand().RunAsync(CliArguments.Parse([
            "--listen", $"http://127.0.0.1:{port}", "--pg", cs, "--clickhouse-dir", ChDbShared.Directory, "--clickhouse-database", ChDbShared.NewDatabaseName(),
            "--export-interval", "200ms", "--jwt-issuer", ApiTestHost.Issuer, "--jwt-audience", ApiTestHost.Audience,
            "--jwt-key", "base64:" + Convert.ToBase64String(ApiTestHost.Key), "--rate-limit", "0", "--anonymous-rate-limit", "0"], _ => null), stop.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiTestHost.Token(ApiScopes.UsageRead));
        try
        {
            // Ready at once: the tables exist before the API listens, not only after a first export.
            var ready = "";
            await Scrape.UntilAsync(async () =>
            {
                Assert.False(serve.IsCompleted, "serve ended early");
                var r = await Scrape.TryGetAsync(http, "/readyz");
                ready = r?.Body ?? "";
                return r?.Status == HttpStatusCode.OK;
            }, TimeSpan.FromSeconds(60), () => "serve never became ready: " + ready);

            await UsageEqualsAsync(http, seeded, serve);

            // Usage committed while serve runs reaches /v1/usage too.
            var more = await OutboxSeeder.SeedAsync(db, 60, seed: 92, accounts: ["acct-s"]);
            await UsageEqualsAsync(http, [.. seeded, .. more], serve);
        }
        finally
        {
            await stop.CancelAsync();
        }

        Assert.Equal(0, await serve);
    }

    // Waits until /v1/usage's daily buckets sum, per SKU, exactly to the seeded rows' quantity, count and amount.
    private static async Task UsageEqualsAsync(HttpClient http, List<OutboxSeeder.Seeded> rows, Task serve)
    {
        var expected = string.Join("; ", rows.GroupBy(r => r.Row.Sku).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"{g.Key} {Norm(g.Sum(r => r.Row.Quantity))} {g.Sum(r => r.Row.RecordCount)} {Norm(g.Sum(r => r.Row.Amount))}"));
        var shown = "";
        await Scrape.UntilAsync(async () =>
        {
            Assert.False(serve.IsCompleted, "serve ended early");
            using var response = await http.GetAsync("/v1/usage?account=acct-s&from=2026-10-01T00:00:00Z&to=2026-12-01T00:00:00Z&granularity=day&limit=10000");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal(JsonValueKind.Null, page.RootElement.GetProperty("next_cursor").ValueKind);
            var points = page.RootElement.GetProperty("points").EnumerateArray().ToList();
            shown = string.Join("; ", points.GroupBy(p => p.GetProperty("sku").GetString()!).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => $"{g.Key} {Norm(g.Sum(p => Dec(p, "quantity")))} {g.Sum(p => p.GetProperty("record_count").GetInt64())} {Norm(g.Sum(p => Dec(p, "amount")))}"));
            return shown == expected;
        }, TimeSpan.FromSeconds(60), () => $"/v1/usage never matched the outbox:\nexpected {expected}\nshown    {shown}");
    }

    // Equal values print alike whatever their scale (the API may send 1.5 for 1.500000000).
    private static decimal Norm(decimal d) => d / 1.000000000000000000000000000000000m;

    private static decimal Dec(JsonElement point, string name) => decimal.Parse(point.GetProperty(name).GetString()!, NumberStyles.Number, CultureInfo.InvariantCulture);
}
