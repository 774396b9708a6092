using System.Net.Http.Headers;
using System.Text;
using Metering.Analytics;
using Metering.Analytics.ChDb;
using Metering.Ledger.Migrations;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Metering.Tests.Analytics;
using Metering.Tests.Api;
using Metering.Tests.Statements;
using Metering.Tests.Storage;
using Metering.Web.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Metering.Tests.WebConsole;

/// <summary>
/// What the console tests look at: <c>metering serve</c>'s app on Kestrel (loopback) over a fresh PostgreSQL ledger and
/// a chDB usage store, with known data. Price books list v1 (requests, egress, graduated cpu.ms), acct-c's contract and list v2 (requests
/// 0.012 from 2027-01) published through the API; acct-c and acct-d have November totals (statements); acct-u has
/// 1,500 rated windows around 2026-11-01 exported to chDB (usage) and a total in the open period (live counters).
/// </summary>
internal sealed class ConsoleSite : IAsyncDisposable
{
    /// <summary>List book v1 (USD, from October): requests 0.01 each; egress per GB after 10 included at 0.05; cpu.ms per
    /// million CPU-ms graduated (first 100 at 0.02, the rest at 0.01, + 1.00 flat in the second tier); fee platform
    /// 20.00; minimum commitment 100.00.</summary>
    public const string ListJson = """
        { "id": "list", "currency": "USD", "rounding": "half_up", "billing_period": { "type": "monthly", "anchor_day": 1 },
          "versions": [ { "version": "v1", "effective_from": "2026-10-01T00:00:00Z",
            "prices": {
              "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.01" },
              "egress": { "model": "per_unit", "unit": "GB", "convert": { "divide_by": "1000000000", "round": "none" }, "included_units": "10", "unit_price": "0.05" },
              "cpu.ms": { "model": "graduated", "unit": "million CPU-ms", "convert": { "divide_by": "1000000", "round": "none" },
                "tiers": [ { "up_to": "100", "unit_price": "0.02" }, { "up_to": null, "unit_price": "0.01", "flat_fee": "1.00" } ] } },
            "fees": [ { "id": "platform", "amount": "20.00", "prorate": true } ],
            "minimum_commitment": "100.00" } ] }
        """;

    /// <summary>List book v2 from 2027-01: requests at 0.012, the rest as v1.</summary>
    public const string ListV2Json = """
        { "id": "list", "currency": "USD", "rounding": "half_up", "billing_period": { "type": "monthly", "anchor_day": 1 },
          "versions": [ { "version": "v2", "effective_from": "2027-01-01T00:00:00Z",
            "prices": {
              "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.012" },
              "egress": { "model": "per_unit", "unit": "GB", "convert": { "divide_by": "1000000000", "round": "none" }, "included_units": "10", "unit_price": "0.05" },
              "cpu.ms": { "model": "graduated", "unit": "million CPU-ms", "convert": { "divide_by": "1000000", "round": "none" },
                "tiers": [ { "up_to": "100", "unit_price": "0.02" }, { "up_to": null, "unit_price": "0.01", "flat_fee": "1.00" } ] } },
            "fees": [ { "id": "platform", "amount": "20.00", "prorate": true } ],
            "minimum_commitment": "100.00" } ] }
        """;

    private static readonly PriceBook List = PriceBookLoader.Load(PriceBookLoader.Utf8(ListJson), "list");

    /// <summary>The books the statements are rated from: list v1 and acct-c's contract (StatementLedger's, on this list).</summary>
    public static PriceCatalog Prices { get; } = new(List, [PriceBookLoader.Load(PriceBookLoader.Utf8(StatementLedger.ContractJson), "contract", List)]);

    private readonly ChDbTransport _transport;

    private readonly OidcProvider? _oidc;
    private readonly JwksKeySource? _jwks;

    private ConsoleSite(WebApplication app, NpgsqlDataSource db, ChDbTransport transport, string url, OidcProvider? oidc, JwksKeySource? jwks)
    {
        App = app;
        Db = db;
        _transport = transport;
        Url = url;
        _oidc = oidc;
        _jwks = jwks;
    }

    public WebApplication App { get; }

    public NpgsqlDataSource Db { get; }

    /// <summary>The server's base address, <c>http://127.0.0.1:PORT</c>.</summary>
    public string Url { get; }

    /// <summary>Start of the period that is open now (live counters).</summary>
    public static DateTimeOffset OpenPeriod => BillingPeriodRule.CalendarMonth.PeriodOf(DateTimeOffset.UtcNow).Start;

    /// <summary>
    /// Starts the site; tokens are checked against <paramref name="key"/> (default ApiTestHost's), <paramref name="issuer"/>
    /// and <paramref name="audience"/>, and with <paramref name="oidc"/> (the console's provider) against its keys
    /// <paramref name="jwks"/> too; the site owns and disposes both.
    /// </summary>
    public static async Task<ConsoleSite> StartAsync(PostgresFixture postgres, byte[]? key = null, string issuer = ApiTestHost.Issuer, string audience = ApiTestHost.Audience,
        OidcProvider? oidc = null, JwksKeySource? jwks = null)
    {
        key ??= ApiTestHost.Key;
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        var db = NpgsqlDataSource.Create(cs);
        var transport = new ChDbTransport(ChDbShared.Session, ownsSession: false);
        var schema = new AnalyticsSchema(ChDbShared.NewDatabaseName());
        var options = new ApiOptions { JwtIssuer = issuer, JwtAudience = audience, JwtSigningKey = key, Prices = Prices, RateLimitPerSecond = 0, AnonymousRateLimitPerSecond = 0, Oidc = oidc, Jwks = jwks };
        var app = ApiHost.Build(options, db, new ClickHouseUsageStore(transport, schema), b =>
        {
            b.WebHost.UseUrls("http://127.0.0.1:0");
            b.Services.AddSingleton(new OperatorReconcile((period, ct) => new AnalyticsReconciler(db, transport, schema).ReconcileAsync(period, ct)));
        });
        await app.StartAsync();
        var site = new ConsoleSite(app, db, transport, app.Urls.Single().TrimEnd('/'), oidc, jwks);

        // Books first: a publish is refused in a range already rated by another version.
        using var publisher = site.Client(ApiTestHost.Token(ApiScopes.Admin, key: key, issuer: issuer, audience: audience));
        foreach (var (id, version, json) in new[] { ("list", "v1", ListJson), ("acct-c-contract", "c1", StatementLedger.ContractJson), ("list", "v2", ListV2Json) })
        {
            using var put = await publisher.PutAsync($"/v1/pricebooks/{id}/versions/{version}", new StringContent(json, Encoding.UTF8, "application/json"));
            Assert.True(put.IsSuccessStatusCode, $"publishing {id} {version}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        }

        await OutboxSeeder.SeedAsync(db, 1_500, seed: 18, accounts: ["acct-u"]);
        await new AnalyticsExporter(db, transport, schema).ExportOnceAsync(default);
        await TotalAsync(db, "acct-c", "requests", StatementLedger.Nov, 123_456m, 40);
        await TotalAsync(db, "acct-c", "egress", StatementLedger.Nov, 25_500_000_000m, 12);
        await TotalAsync(db, "acct-c", "cpu.ms", StatementLedger.Nov, 345_678_901.5m, 77);
        await TotalAsync(db, "acct-d", "requests", StatementLedger.Nov, 999m, 9);
        await TotalAsync(db, "acct-u", "requests", OpenPeriod, 4_321m, 17);
        return site;
    }

    // A period total as a flush leaves it, with the lineage of the version that prices it at the period's start.
    private static async Task TotalAsync(NpgsqlDataSource db, string account, string sku, DateTimeOffset start, decimal quantity, long count)
    {
        await using var cmd = db.CreateCommand("""
            INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash)
            VALUES ($1, $2, $3, $4, $5, $6, 0, 'USD', $7, $8, $9)
            """);
        var priced = Prices.Resolve(account, sku, start);
        foreach (var v in new object[] { account, sku, start, start.AddMonths(1), quantity, count, priced.Book!.Id, priced.Version!.Version, priced.Version.Hash })
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = v });
        }

        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>An HTTP client of the same server, with <paramref name="token"/> as bearer (none when null).</summary>
    public HttpClient Client(string? token = null)
    {
        var client = new HttpClient { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Db.DisposeAsync();
        _transport.Dispose();
        _oidc?.Dispose();
        if (_jwks is not null)
        {
            await _jwks.DisposeAsync();
        }
    }
}
