using System.Net;
using System.Text;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Corrections;
using Metering.Ledger.Migrations;
using Metering.Ledger.PriceBooks;
using Metering.Rating.PriceBooks;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>
/// A version published through the API with an effective instant inside the open period prices a running engine's
/// windows from that instant on, on top of the period's quantity before it, and the statement shows a line per version
/// (docs/pricebooks.md, "Versions that take effect inside a period").
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class MidPeriodRatingTests(PostgresFixture postgres) : IDisposable
{
    private const string Book = "mid-list";
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    // November (open: nothing closed it). 'nov' per unit 0.10/GB from Nov 1; 'mid' from Nov 15: graduated 1.00/GB up to 200 GB of the period, then 0.50.
    private const string NovVersion = """{ "version": "nov", "effective_from": "2026-11-01T00:00:00Z", "prices": { "egress.gb": { "model": "per_unit", "unit": "GB", "unit_price": "0.10" } } }""";
    private const string Mid = """{ "version": "mid", "effective_from": "2026-11-15T00:00:00Z", "prices": { "egress.gb": { "model": "graduated", "unit": "GB", "tiers": [ { "up_to": "200", "unit_price": "1.00" }, { "up_to": null, "unit_price": "0.50" } ] } } }""";
    private const string Early = """{ "version": "early", "effective_from": "2026-11-02T00:00:00Z", "prices": { "egress.gb": { "model": "per_unit", "unit": "GB", "unit_price": "5" } } }""";

    private static string Document(string version) => $$"""{ "id": "{{Book}}", "currency": "USD", "billing_period": { "type": "monthly", "anchor_day": 1 }, "versions": [ {{version}} ] }""";

    private static byte[] Record(string id, string time, long quantity) => Encoding.UTF8.GetBytes(
        $"{{\"id\":\"{id}\",\"account\":\"acct-m\",\"sku\":\"egress.gb\",\"quantity\":\"{quantity}\",\"time\":\"{time}\"}}\n");

    private async Task ProduceAndWaitAsync(NpgsqlDataSource db, StreamingOptions options, byte[] record, long expected, Task engine)
    {
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(record), null, CancellationToken.None);
        await EngineRuns.WaitForCommittedAsync(db, options, expected, engine);
    }

    private static async Task<List<(string PriceFrom, decimal Quantity, decimal Amount, string Version)>> TotalsAsync(NpgsqlDataSource db)
    {
        var rows = new List<(string, decimal, decimal, string)>();
        await using var cmd = db.CreateCommand("SELECT to_char(price_from AT TIME ZONE 'UTC', 'MM-DD'), quantity, amount, price_book_version FROM billing_period_totals WHERE account = 'acct-m' ORDER BY price_from");
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            rows.Add((r.GetString(0), r.GetDecimal(1), r.GetDecimal(2), r.GetString(3)));
        }

        return rows;
    }

    [Fact]
    public async Task A_version_published_inside_the_open_period_prices_the_next_flush_from_its_instant_and_the_statement_shows_both_versions()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        _kafka.CreateTopic("mid-period", 2, 1);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = "mid-period", FlushInterval = TimeSpan.FromMilliseconds(200) };
        var novBytes = Encoding.UTF8.GetBytes(Document(NovVersion));
        await PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(novBytes, "nov.json"), novBytes, "nov.json", CancellationToken.None);

        await using var prices = await PriceCatalogSource.OpenAsync(db, Book, TimeSpan.FromHours(1), null, CancellationToken.None);
        using var stop = new CancellationTokenSource();
        var running = Task.Factory.StartNew(() => StreamingEngine.Rating(options, db, prices).RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();

        // 100 GB on Nov 3 at 0.10.
        await ProduceAndWaitAsync(db, options, Record("e-1", "2026-11-03T10:00:00Z", 100), 1, running);
        Assert.Equal([("11-01", 100m, 10.00m, "nov")], await TotalsAsync(db));

        // serve's API over the same registry source: it rates statements with what the engine rates with.
        await using var api = await ApiTestHost.StartOnAsync(cs, prices);
        var writer = api.Client(ApiTestHost.Token("pricebooks:write"));

        // A version taking effect on Nov 2 would re-price the Nov 3 window already rated by 'nov': refused.
        using (var early = await writer.PutAsync($"/v1/pricebooks/{Book}/versions/early", new StringContent(Document(Early), Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
            Assert.Contains("already rated", await early.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // On Nov 15, after every rated window: published, and it supersedes 'nov' from that instant.
        using (var mid = await writer.PutAsync($"/v1/pricebooks/{Book}/versions/mid", new StringContent(Document(Mid), Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Created, mid.StatusCode);
        }

        // 100 GB on Nov 20: 'mid' on top of the period's 100 GB: mid(200) - mid(100) = 100.00.
        await ProduceAndWaitAsync(db, options, Record("e-2", "2026-11-20T10:00:00Z", 100), 2, running);
        Assert.Equal([("11-01", 100m, 10.00m, "nov"), ("11-15", 100m, 100.00m, "mid")], await TotalsAsync(db));

        // 50 GB arriving late for Nov 5: 'nov' prices it (15.00), and 'mid' now sits on top of 150 GB:
        // mid(250) - mid(150) = 225.00 - 150.00 = 75.00.
        await ProduceAndWaitAsync(db, options, Record("e-3", "2026-11-05T10:00:00Z", 50), 3, running);
        Assert.Equal([("11-01", 150m, 15.00m, "nov"), ("11-15", 100m, 75.00m, "mid")], await TotalsAsync(db));
        await stop.CancelAsync();
        await running;

        // An amend of the Nov 20 event (100 -> 60 GB) is a change of the 'mid' stretch: mid(210) - mid(150) = 55.00.
        // The source follows the publish (NOTIFY): wait until its catalog has 'mid', as serve's would.
        for (var i = 0; i < 100 && prices.Current!.List!.Versions.Count < 2; i++)
        {
            await Task.Delay(50);
        }

        var catalog = prices.Current!;
        var amend = CorrectionRequest.Validate(new CorrectionInput("acct-m", "amend", "k-1", "e-2", "egress.gb", "2026-11-20T10:00:00Z", "100", "60", Reason: "meter fix"), "test", _ => null);
        Assert.True(amend.IsValid);
        var written = await CorrectionStore.WriteAsync(db, amend.Request!, catalog.List!.Periods, new DateTimeOffset(2026, 11, 28, 0, 0, 0, TimeSpan.Zero),
            CorrectionHorizon.Default, CancellationToken.None, catalog);
        Assert.Equal(CorrectionWriteStatus.Created, written.Status);

        // Taking back more than the 'mid' stretch recorded (an event of Nov 21 claimed at 70 GB) is refused, even though the
        // period as a whole holds 250 GB.
        var tooMuch = CorrectionRequest.Validate(new CorrectionInput("acct-m", "void", "k-2", "e-9", "egress.gb", "2026-11-21T10:00:00Z", "70", null, Reason: "test"), "test", _ => null);
        var refused = await CorrectionStore.WriteAsync(db, tooMuch.Request!, catalog.List!.Periods, new DateTimeOffset(2026, 11, 28, 0, 0, 0, TimeSpan.Zero),
            CorrectionHorizon.Default, CancellationToken.None, catalog);
        Assert.Equal(CorrectionWriteStatus.Refused, refused.Status);

        var reader = api.Client(ApiTestHost.Token("billing:read"));
        using var response = await reader.GetAsync("/v1/accounts/acct-m/statements/2026-11");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ApiTestHost.Json(response);
        var lines = body.GetProperty("usage").EnumerateArray().Select(l => (
            l.GetProperty("line_id").GetString(), l.GetProperty("recorded_quantity").GetString(), l.GetProperty("amount").GetString(),
            l.GetProperty("price_book_version").GetString(), l.GetProperty("price_from").GetDateTimeOffset(), l.GetProperty("price_to").GetDateTimeOffset())).ToList();
        var nov1 = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        var nov15 = new DateTimeOffset(2026, 11, 15, 0, 0, 0, TimeSpan.Zero);
        var dec1 = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(
            [("usage:egress.gb@2026-11-01T00:00:00Z", "150", "15.00", "nov", nov1, nov15), ("usage:egress.gb@2026-11-15T00:00:00Z", "60", "55.00", "mid", nov15, dec1)],
            lines);
        Assert.Equal("70.00", body.GetProperty("totals")[0].GetProperty("total").GetString());

        // Both versions' hashes on the lines resolve through the API.
        foreach (var line in body.GetProperty("usage").EnumerateArray())
        {
            using var version = await reader.GetAsync("/v1/pricebooks/by-hash/" + line.GetProperty("price_book_hash").GetString());
            Assert.Equal(HttpStatusCode.OK, version.StatusCode);
        }
    }
}
