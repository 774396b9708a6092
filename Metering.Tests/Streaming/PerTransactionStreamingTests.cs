using System.Net;
using System.Text;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Corrections;
using Metering.Ledger.Migrations;
using Metering.Ledger.Outbox;
using Metering.Ledger.PeriodClose;
using Metering.Ledger.Statements;
using Metering.Ledger.PriceBooks;
using Metering.Ledger.Verification;
using Metering.Rating.PriceBooks;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>
/// Percentage prices rated per transaction (per-transaction minimum and maximum, free transactions) in a running
/// engine (issue 15): every record is a transaction, rated once, in the period's event-time order across flushes and
/// restarts, and the statement bills what the engine rated (docs/pricebooks.md, "Percentage prices").
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PerTransactionStreamingTests(PostgresFixture postgres) : IDisposable
{
    private const string Book = "payments-list";
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    // cards: 2.9 % + 0.30, min 0.50, max 25.00. wires: 2 % + 0.30, the first 2 transactions of the period free.
    private const string Percentages = """
        { "id": "payments-list", "currency": "USD", "billing_period": { "type": "monthly", "anchor_day": 1 }, "versions": [
          { "version": "nov", "effective_from": "2026-11-01T00:00:00Z", "prices": {
            "cards": { "model": "percentage", "unit": "USD", "rate": "2.9", "fixed_fee": "0.30", "per_transaction_min": "0.50", "per_transaction_max": "25.00" },
            "wires": { "model": "percentage", "unit": "USD", "rate": "2", "fixed_fee": "0.30", "free_transactions": 2 } } } ] }
        """;

    private static byte[] Records(params (string Id, string Sku, string Amount, string Time)[] records) => Encoding.UTF8.GetBytes(string.Concat(records.Select(r =>
        $"{{\"id\":\"{r.Id}\",\"account\":\"acct-p\",\"sku\":\"{r.Sku}\",\"quantity\":\"{r.Amount}\",\"time\":\"{r.Time}\"}}\n")));

    private async Task RunUntilAsync(NpgsqlDataSource db, StreamingOptions options, PriceCatalogSource prices, byte[] records, long expected)
    {
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(records), null, CancellationToken.None);
        await EngineRuns.RunUntilCommittedAsync(StreamingEngine.Rating(options, db, prices), db, options, expected);
        Assert.Equal(expected, await PipelineRun.CommittedAsync(db, options, CancellationToken.None));
    }

    private static async Task<Dictionary<string, (decimal Quantity, long Count, decimal Amount, long Transactions)>> TotalsAsync(NpgsqlDataSource db)
    {
        var rows = new Dictionary<string, (decimal, long, decimal, long)>();
        await using var cmd = db.CreateCommand("""
            SELECT b.sku, b.quantity, b.record_count, b.amount,
              (SELECT count(*) FROM usage_transactions u WHERE u.account = b.account AND u.sku = b.sku AND u.period_start = b.period_start AND u.price_from = b.price_from)
            FROM billing_period_totals b WHERE b.account = 'acct-p'
            """);
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            rows[r.GetString(0)] = (r.GetDecimal(1), r.GetInt64(2), r.GetDecimal(3), r.GetInt64(4));
        }

        return rows;
    }

    [Fact]
    public async Task Streamed_records_of_percentage_prices_are_rated_one_by_one_in_event_time_order_across_restarts_and_billed_on_the_statement()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        _kafka.CreateTopic("per-transaction", 2, 1);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = "per-transaction", FlushInterval = TimeSpan.FromMilliseconds(200) };
        var bytes = Encoding.UTF8.GetBytes(Percentages);
        await PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(bytes, "payments.json"), bytes, "payments.json", CancellationToken.None);
        await using var prices = await PriceCatalogSource.OpenAsync(db, Book, TimeSpan.FromHours(1), null, CancellationToken.None);

        // First engine: cards 5.00 → 0.50 (min), 100.00 → 3.20, 1000.00 → 25.00 (max); wires on Nov 10, 11, 12 of 10, 20,
        // 30: the first two free, 30 → 0.90. A duplicate of c-2 is dropped, not a fourth transaction.
        await RunUntilAsync(db, options, prices, Records(
            ("c-1", "cards", "5.00", "2026-11-03T10:00:00Z"), ("c-2", "cards", "100.00", "2026-11-03T11:00:00Z"), ("c-2", "cards", "100.00", "2026-11-03T11:00:00Z"),
            ("c-3", "cards", "1000.00", "2026-11-03T12:00:00Z"),
            ("w-1", "wires", "10", "2026-11-10T10:00:00Z"), ("w-2", "wires", "20", "2026-11-11T10:00:00Z"), ("w-3", "wires", "30", "2026-11-12T10:00:00Z")), 7);
        var first = await TotalsAsync(db);
        Assert.Equal((1105.00m, 3L, 28.70m, 3L), first["cards"]);
        Assert.Equal((60m, 3L, 0.90m, 3L), first["wires"]);

        // A second engine (a restart) reads the stored transactions back: a wire of Nov 9 (40) arrives late and takes a
        // free place: 40 and 10 free, 20 → 0.70, 30 → 0.90 = 1.60; a card of 0.00 costs nothing (no fixed fee, no minimum).
        await RunUntilAsync(db, options, prices, Records(("w-0", "wires", "40", "2026-11-09T10:00:00Z"), ("c-4", "cards", "0", "2026-11-04T10:00:00Z")), 9);
        var second = await TotalsAsync(db);
        Assert.Equal((1105.00m, 4L, 28.70m, 4L), second["cards"]);
        Assert.Equal((100m, 4L, 1.60m, 4L), second["wires"]);

        // The rated windows (outbox) sum to the totals, and the ledger's own checks hold.
        var sums = (await RatedWindowBlobOutbox.ReadAllRowsAsync(db, default)).Where(r => r.Account == "acct-p")
            .GroupBy(r => r.Sku).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (g.Key, g.Sum(r => r.Amount)));
        Assert.Equal([("cards", 28.70m), ("wires", 1.60m)], sums);

        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));

        // The statement bills what the engine rated, with the version's lineage.
        await using var api = await ApiTestHost.StartOnAsync(cs, prices);
        using var response = await api.Client(ApiTestHost.Token("billing:read")).GetAsync("/v1/accounts/acct-p/statements/2026-11");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ApiTestHost.Json(response);
        var lines = body.GetProperty("usage").EnumerateArray()
            .Select(l => (l.GetProperty("sku").GetString(), l.GetProperty("priced").GetBoolean(), l.GetProperty("amount").GetString(), l.GetProperty("price_book_version").GetString()))
            .ToList();
        Assert.Equal([("cards", true, "28.70", "nov"), ("wires", true, "1.60", "nov")], lines);
        Assert.Equal("30.30", body.GetProperty("totals")[0].GetProperty("total").GetString());

        // A void of one card would re-price the others: refused with a clear code, nothing written (a credit books money).
        var catalog = prices.Current!;
        var voidCard = CorrectionRequest.Validate(new CorrectionInput("acct-p", "void", "k-1", "c-2", "cards", "2026-11-03T11:00:00Z", "100.00", null, Reason: "test"), "test", _ => null);
        var refused = await CorrectionStore.WriteAsync(db, voidCard.Request!, catalog.List!.Periods, new DateTimeOffset(2026, 11, 28, 0, 0, 0, TimeSpan.Zero),
            CorrectionHorizon.Default, CancellationToken.None, catalog);
        Assert.Equal((CorrectionWriteStatus.Refused, "rated_per_transaction"), (refused.Status, refused.Refusal!.Code));

        // Closing November freezes the same amounts in the final statement; a re-rate whose draft changes the card price
        // is refused (it cannot re-rate the transactions from the statement), one that changes nothing books nothing.
        var november = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        await PeriodCloser.CloseAsync(db, november, CancellationToken.None, catalog.List!.Periods, now: november.AddMonths(1).AddMinutes(30), prices: catalog);
        using (var final = await api.Client(ApiTestHost.Token("billing:read")).GetAsync("/v1/accounts/acct-p/statements/2026-11"))
        {
            var finalBody = await ApiTestHost.Json(final);
            Assert.Equal(["28.70", "1.60"], finalBody.GetProperty("usage").EnumerateArray().Select(l => l.GetProperty("amount").GetString()));
        }

        var period = new Metering.Rating.Periods.BillingPeriod(november, november.AddMonths(1));
        var cheaper = Encoding.UTF8.GetBytes(Percentages.Replace("\"rate\": \"2.9\"", "\"rate\": \"2.5\"", StringComparison.Ordinal));
        var draft = new PriceCatalog(PriceBookLoader.Load(cheaper, "draft.json"), []);
        var e = await Assert.ThrowsAsync<RerateException>(() => Rerater.PreviewAsync(db, period, catalog, draft, null, CancellationToken.None));
        Assert.Equal(RerateRefusal.RatedPerTransaction, e.Refusal);
        var same = await Rerater.PreviewAsync(db, period, catalog, new PriceCatalog(PriceBookLoader.Load(bytes, "same.json"), []), null, CancellationToken.None);
        Assert.All(same.Accounts, a => Assert.Empty(a.Lines));
    }

    [Fact]
    public async Task A_price_that_becomes_per_transaction_while_the_engine_runs_rates_every_record_once_whenever_the_engine_learns_of_it()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        _kafka.CreateTopic("per-transaction-late", 1, 1);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = "per-transaction-late", FlushInterval = TimeSpan.FromMilliseconds(200) };
        // From Nov 1, wires are a plain 2 % (rated from totals); a version from Nov 20 (superseding it) adds 2 free transactions.
        const string Plain = """
            { "id": "payments-list", "currency": "USD", "versions": [
              { "version": "nov", "effective_from": "2026-11-01T00:00:00Z", "prices": { "wires": { "model": "percentage", "unit": "USD", "rate": "2" } } } ] }
            """;
        const string WithFree = """
            { "id": "payments-list", "currency": "USD", "versions": [
              { "version": "free", "effective_from": "2026-11-20T00:00:00Z", "prices": { "wires": { "model": "percentage", "unit": "USD", "rate": "2", "fixed_fee": "0.30", "free_transactions": 2 } } } ] }
            """;
        var plain = Encoding.UTF8.GetBytes(Plain);
        await PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(plain, "plain.json"), plain, "plain.json", CancellationToken.None);
        await using var prices = await PriceCatalogSource.OpenAsync(db, Book, TimeSpan.FromHours(1), null, CancellationToken.None);
        using var stop = new CancellationTokenSource();
        var running = Task.Factory.StartNew(() => StreamingEngine.Rating(options, db, prices).RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(Records(("w-1", "wires", "100", "2026-11-05T10:00:00Z"))), null, CancellationToken.None);
        await EngineRuns.WaitForCommittedAsync(db, options, 1, running);

        // Published while the engine runs, and the records right behind it: whether the engine sees the new version
        // before them or not (then the flush finds them without their transactions and they are read again), each is
        // rated once. Nov 21: 10 and 20 are the period's 2nd and 3rd transactions: 10 free, 20 → 0.40 + 0.30 = 0.70.
        var withFree = Encoding.UTF8.GetBytes(WithFree);
        await PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(withFree, "free.json"), withFree, "free.json", CancellationToken.None);
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic,
            new MemoryStream(Records(("w-2", "wires", "10", "2026-11-21T10:00:00Z"), ("w-3", "wires", "20", "2026-11-21T11:00:00Z"))), null, CancellationToken.None);
        await EngineRuns.WaitForCommittedAsync(db, options, 3, running);
        await stop.CancelAsync();
        await running;

        await using var cmd = db.CreateCommand("SELECT to_char(price_from AT TIME ZONE 'UTC', 'MM-DD'), quantity, record_count, amount, price_book_version FROM billing_period_totals WHERE account = 'acct-p' ORDER BY price_from");
        await using var r = await cmd.ExecuteReaderAsync();
        var totals = new List<(string, decimal, long, decimal, string)>();
        while (await r.ReadAsync())
        {
            totals.Add((r.GetString(0), r.GetDecimal(1), r.GetInt64(2), r.GetDecimal(3), r.GetString(4)));
        }

        Assert.Equal([("11-01", 100m, 1L, 2.00m, "nov"), ("11-20", 30m, 2L, 0.70m, "free")], totals);
        await using var letters = db.CreateCommand("SELECT count(*) FROM dead_letters");
        Assert.Equal(0L, (long)(await letters.ExecuteScalarAsync())!);
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
    }
}
