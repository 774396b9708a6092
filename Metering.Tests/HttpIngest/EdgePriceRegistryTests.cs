using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Metering.Aggregates.Admission;
using Metering.DevKit.Kafka;
using Metering.Ledger.Migrations;
using Metering.Ledger.PriceBooks;
using Metering.Rating.PriceBooks;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Metering.Web.Api;
using Metering.Web.HttpIngest;
using Microsoft.AspNetCore.Hosting;
using Npgsql;

namespace Metering.Tests.HttpIngest;

/// <summary>
/// The HTTP edge judges SKUs against the PostgreSQL price-book registry it serves, not against the files it was
/// started with: a SKU a version published through <c>PUT /v1/pricebooks/...</c> prices is admitted by the running
/// edge afterwards (under <c>--unknown-sku reject</c>), and is exempt from the SKU limits, as the engine follows it.
/// Real parts: PostgreSQL (registry and its NOTIFY), Kestrel on loopback, a Kafka mock cluster.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class EdgePriceRegistryTests(PostgresFixture postgres) : IDisposable
{
    private static readonly string ListPath = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "list.json");

    // The registry reloads on the publish's NOTIFY (or its 1 s poll here); the margin is for a loaded machine.
    private static readonly TimeSpan ReloadBound = TimeSpan.FromSeconds(15);

    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    /// <summary>The example list book cut down to its version <paramref name="index"/>.</summary>
    private static string OneVersion(int index)
    {
        var root = JsonNode.Parse(File.ReadAllText(ListPath))!.AsObject();
        var version = root["versions"]![index]!.DeepClone();
        root["versions"] = new JsonArray(version);
        return root.ToJsonString();
    }

    private static byte[] Record(string id, string sku) => Encoding.UTF8.GetBytes(
        $$"""{"id":"{{id}}","account":"acct-7","sku":"{{sku}}","quantity":"3","time":"{{DateTime.UtcNow.AddMinutes(-1):yyyy-MM-dd'T'HH:mm:ss'Z'}}"}""");

    private static async Task<JsonElement> PostAsync(HttpClient http, byte[] record)
    {
        using var content = new ByteArrayContent(record);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        using var response = await http.PostAsync("/v1/events", content);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("receipts")[0].Clone();
    }

    private async Task<(HttpClient Http, IAsyncDisposable Stop)> ServeAsync(UnknownSkuPolicy policy, int maxSkusPerAccount)
    {
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        var db = NpgsqlDataSource.Create(connectionString);
        // Only the October version at start: it prices cdn.requests and cdn.egress.bytes, not workers.cpu.ms.
        var first = Encoding.UTF8.GetBytes(OneVersion(0));
        await PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(first, "list.json"), first, "test", CancellationToken.None);
        var prices = await PriceCatalogSource.OpenAsync(db, null, TimeSpan.FromSeconds(1), null, CancellationToken.None);
        var topic = "edge-registry-" + Guid.NewGuid().ToString("N")[..8];
        _kafka.CreateTopic(topic, 2, 1);
        // What serve gives the edge: the SKUs at start, and the registry to follow.
        var service = new HttpIngestService(new HttpIngestOptions
        {
            BootstrapServers = _kafka.BootstrapServers, Topic = topic, UnknownSkus = policy, KnownSkus = prices.Current!.KnownSkus(), Prices = prices,
            MaxSkusPerAccount = maxSkusPerAccount,
        });
        var options = new ApiOptions { JwtIssuer = ApiTestHost.Issuer, JwtAudience = ApiTestHost.Audience, JwtSigningKey = ApiTestHost.Key, HttpIngest = service, PriceSource = prices };
        var app = ApiHost.Build(options, db, new InMemoryUsageStore(), b => b.WebHost.UseUrls("http://127.0.0.1:0"));
        await app.StartAsync();
        var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiTestHost.Token("admin"));
        return (http, new Stopper(http, app, service, prices, db));
    }

    private static async Task PublishNovemberAsync(HttpClient http)
    {
        using var put = await http.PutAsync("/v1/pricebooks/edge-list/versions/2026-11", new StringContent(OneVersion(1), Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
    }

    /// <summary>Posts fresh records of <paramref name="sku"/> until one is accepted or the bound passes; every other answer must be <paramref name="refusal"/>.</summary>
    private static async Task<string?> AcceptedWithinBoundAsync(HttpClient http, string sku, string refusal)
    {
        var deadline = DateTime.UtcNow + ReloadBound;
        string? status = null;
        for (var attempt = 0; DateTime.UtcNow < deadline && status != "accepted"; attempt++)
        {
            var receipt = await PostAsync(http, Record($"after-{sku}-{attempt}", sku));
            status = receipt.GetProperty("status").GetString();
            if (status != "accepted")
            {
                Assert.Equal(refusal, receipt.GetProperty("reason").GetString());
                await Task.Delay(50);
            }
        }

        return status;
    }

    [Fact]
    public async Task Under_reject_a_sku_priced_by_a_version_published_through_the_api_is_admitted_by_the_running_edge()
    {
        var (http, stop) = await ServeAsync(UnknownSkuPolicy.Reject, maxSkusPerAccount: 1000);
        await using var _ = stop;

        var before = await PostAsync(http, Record("before-1", "workers.cpu.ms"));
        Assert.Equal("rejected", before.GetProperty("status").GetString());
        Assert.Equal("unknown_sku", before.GetProperty("reason").GetString());
        Assert.Equal("accepted", (await PostAsync(http, Record("before-2", "cdn.requests"))).GetProperty("status").GetString());

        await PublishNovemberAsync(http);

        Assert.Equal("accepted", await AcceptedWithinBoundAsync(http, "workers.cpu.ms", "unknown_sku"));
        // A SKU no version prices is still refused.
        var unpriced = await PostAsync(http, Record("after-unpriced", "made.up.sku"));
        Assert.Equal("unknown_sku", unpriced.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task A_sku_priced_by_a_version_published_while_the_edge_runs_no_longer_counts_against_the_sku_limit()
    {
        // Accept, with room for one SKU unknown to the books per account: the first unknown SKU takes it.
        var (http, stop) = await ServeAsync(UnknownSkuPolicy.Accept, maxSkusPerAccount: 1);
        await using var _ = stop;
        Assert.Equal("accepted", (await PostAsync(http, Record("limit-1", "made.up.sku"))).GetProperty("status").GetString());
        var limited = await PostAsync(http, Record("limit-2", "workers.cpu.ms"));
        Assert.Equal("edge_cardinality_limit", limited.GetProperty("reason").GetString());

        await PublishNovemberAsync(http);

        // Priced now: exempt from the limit, which the account has used up.
        Assert.Equal("accepted", await AcceptedWithinBoundAsync(http, "workers.cpu.ms", "edge_cardinality_limit"));
        Assert.Equal("edge_cardinality_limit", (await PostAsync(http, Record("limit-3", "other.made.up.sku"))).GetProperty("reason").GetString());
    }

    private sealed class Stopper(HttpClient http, Microsoft.AspNetCore.Builder.WebApplication app, HttpIngestService service, PriceCatalogSource prices, NpgsqlDataSource db) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            http.Dispose();
            await app.DisposeAsync();
            service.Dispose();
            await prices.DisposeAsync();
            await db.DisposeAsync();
        }
    }
}
