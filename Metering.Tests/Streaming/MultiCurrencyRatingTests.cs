using System.Net;
using System.Text;
using System.Text.Json;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Accounts;
using Metering.Ledger.Migrations;
using Metering.Ledger.PriceBooks;
using Metering.Rating.Accounts;
using Metering.Rating.Money;
using Metering.Rating.PriceBooks;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>
/// One book priced in USD, EUR and JPY (examples/pricebooks/multi-currency.json) and three accounts on it, each billed
/// in its own currency: a running engine rates each account's usage in its currency, and the statement API serves
/// every line in it; the JPY account's egress, which has no JPY price, is metered and flagged, never converted.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class MultiCurrencyRatingTests(PostgresFixture postgres) : IDisposable
{
    private static readonly DateTimeOffset November = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);
    private int _nextId;

    public void Dispose() => _kafka.Dispose();

    private byte[] Record(string account, string sku, long quantity) => Encoding.UTF8.GetBytes(
        $"{{\"id\":\"cur-{++_nextId}\",\"account\":\"{account}\",\"sku\":\"{sku}\",\"quantity\":\"{quantity}\",\"time\":\"2026-11-10T10:00:00Z\"}}\n");

    [Fact]
    public async Task An_eur_a_usd_and_a_jpy_account_on_one_book_are_each_rated_and_billed_in_their_own_currency()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        var file = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "multi-currency.json");
        var bytes = await File.ReadAllBytesAsync(file);
        await PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(bytes, file), bytes, file, CancellationToken.None);
        foreach (var (account, currency) in new[] { ("acct-eur", "EUR"), ("acct-usd", "USD"), ("acct-jpy", "JPY") })
        {
            await AccountStore.SetAsync(db, new AccountTerms(account, Currency.Get(currency), "global-list", null, November, null, null, null), "test", null, CancellationToken.None);
        }

        _kafka.CreateTopic("multi-currency", 2, 1);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = "multi-currency", FlushInterval = TimeSpan.FromMilliseconds(200) };
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream([
            .. Record("acct-eur", "cdn.requests", 10_000_000), .. Record("acct-eur", "cdn.egress.bytes", 8_000_000_000),
            .. Record("acct-usd", "cdn.requests", 10_000_000), .. Record("acct-usd", "cdn.egress.bytes", 8_000_000_000),
            .. Record("acct-jpy", "cdn.requests", 10_000_000), .. Record("acct-jpy", "cdn.egress.bytes", 8_000_000_000)]), null, CancellationToken.None);
        await using var prices = await PriceCatalogSource.OpenAsync(db, "global-list", TimeSpan.FromHours(1), null, CancellationToken.None);
        await EngineRuns.RunUntilCommittedAsync(StreamingEngine.Rating(options, db, prices), db, options, 6);

        // The engine's totals. requests: 10^7 x 0.00000037 = 3.70 EUR, x 0.0000004 = 4.00 USD, x 0.00006 = 600 JPY.
        // egress 8 GB (a record carries at most ~9.2 x 10^9 units): x 0.075 = 0.60 EUR, x 0.08 = 0.64 USD, no JPY price (0, unpriced).
        var totals = new Dictionary<(string, string), (decimal, string, string)>();
        await using (var cmd = db.CreateCommand("SELECT account, sku, amount, currency, price_book FROM billing_period_totals"))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
            {
                totals[(r.GetString(0), r.GetString(1))] = (r.GetDecimal(2), r.GetString(3).Trim(), r.GetString(4));
            }
        }

        Assert.Equal((3.70m, "EUR", "global-list"), totals[("acct-eur", "cdn.requests")]);
        Assert.Equal((0.60m, "EUR", "global-list"), totals[("acct-eur", "cdn.egress.bytes")]);
        Assert.Equal((4.00m, "USD", "global-list"), totals[("acct-usd", "cdn.requests")]);
        Assert.Equal((0.64m, "USD", "global-list"), totals[("acct-usd", "cdn.egress.bytes")]);
        Assert.Equal((600m, "JPY", "global-list"), totals[("acct-jpy", "cdn.requests")]);
        Assert.Equal((0m, "unpriced"), (totals[("acct-jpy", "cdn.egress.bytes")].Item1, totals[("acct-jpy", "cdn.egress.bytes")].Item3));

        // The statements: EUR usage 4.30 + fee 18.00 + true-up 23.00 - 4.30 = 18.70: 41.00 EUR; USD 4.64 + 20.00 + 25.00 - 4.64
        // = 20.36: 45.00 USD; JPY 600 + fee 3,000 + true-up 3,800 - 600 = 3,200: 6,800 JPY, and egress flagged currency_not_priced.
        await using var api = await ApiTestHost.StartOnAsync(cs, prices);
        async Task<JsonElement> Statement(string account)
        {
            using var response = await api.Client(ApiTestHost.Token("billing:read")).GetAsync($"/v1/accounts/{account}/statements/2026-11");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await ApiTestHost.Json(response);
        }

        static IEnumerable<(string?, string?)> Lines(JsonElement s, string kind) =>
            s.GetProperty(kind).EnumerateArray().Select(l => (l.GetProperty("amount").GetString(), l.GetProperty("currency").GetString()));
        static (string?, string?) Total(JsonElement s) => s.GetProperty("totals").EnumerateArray().Select(t => (t.GetProperty("currency").GetString(), t.GetProperty("total").GetString())).Single();

        var eur = await Statement("acct-eur");
        Assert.Equal([("0.60", "EUR"), ("3.70", "EUR")], Lines(eur, "usage"));
        Assert.Equal([("18.00", "EUR")], Lines(eur, "fees"));
        Assert.Equal("18.70", eur.GetProperty("commitments").EnumerateArray().Single().GetProperty("true_up").GetString());
        Assert.Equal(("EUR", "41.00"), Total(eur));
        var usd = await Statement("acct-usd");
        Assert.Equal([("0.64", "USD"), ("4.00", "USD")], Lines(usd, "usage"));
        Assert.Equal([("20.00", "USD")], Lines(usd, "fees"));
        Assert.Equal(("USD", "45.00"), Total(usd));
        var jpy = await Statement("acct-jpy");
        var egress = jpy.GetProperty("usage").EnumerateArray().Single(l => l.GetProperty("sku").GetString() == "cdn.egress.bytes");
        Assert.Equal((false, "currency_not_priced", "8000000000"), (egress.GetProperty("priced").GetBoolean(), egress.GetProperty("unpriced_reason").GetString(), egress.GetProperty("recorded_quantity").GetString()));
        Assert.Equal([("3000", "JPY")], Lines(jpy, "fees"));
        Assert.Equal("3200", jpy.GetProperty("commitments").EnumerateArray().Single().GetProperty("true_up").GetString());
        Assert.Equal(("JPY", "6800"), Total(jpy));

        // One version, one hash, on every account's lines.
        Assert.Single(new[] { eur, usd, jpy }.SelectMany(s => s.GetProperty("usage").EnumerateArray()).Select(l => l.GetProperty("price_book_hash").GetString()).Distinct());
    }
}
