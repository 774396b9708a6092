using System.Globalization;
using System.Net;
using System.Text;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.Ingest.Streaming;
using Metering.Ledger.Corrections;
using Metering.Ledger.Outbox;
using Metering.Ledger.PeriodClose;
using Metering.Ledger.PriceBooks;
using Metering.Ledger.Verification;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>
/// Meters beyond sums in a running engine (issue 17, docs/meters.md): count, max, min, time_weighted and percentile are
/// merged into each total's state in the flush transaction, rated on the meter's quantity, and billed on the statement;
/// a restart, a crash at any record and late usage after the close count every record exactly once.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class MeterStreamingTests(PostgresFixture postgres) : IDisposable
{
    private const string Book = "meters-list";
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    // api.calls: 0.20 per started 1,000 records. gpu.peak: 40.00 per GPU of the peak. db.floor: 15.00 per instance of the
    // smallest report. r2.storage: 0.00002 per GB-hour of megabytes stored. transit.peak: 0.10 per unit of the busiest hour
    // (p99.9 of 720 hourly buckets discards floor(0.72) = 0 of them).
    private const string Meters = """
        { "id": "meters-list", "currency": "USD", "rounding": "half_up", "versions": [
          { "version": "nov", "effective_from": "2026-11-01T00:00:00Z", "prices": {
            "api.calls": { "model": "package", "unit": "1k calls", "package_size": "1000", "package_price": "0.20", "meter": { "aggregation": "count" } },
            "gpu.peak": { "model": "per_unit", "unit": "GPU", "unit_price": "40.00", "meter": { "aggregation": "max" } },
            "db.floor": { "model": "per_unit", "unit": "instance", "unit_price": "15.00", "meter": { "aggregation": "min" } },
            "r2.storage": { "model": "per_unit", "unit": "GB-hour", "unit_price": "0.00002", "convert": { "divide_by": "1000", "round": "none" },
                            "meter": { "aggregation": "time_weighted", "unit_of_time": "hour" } },
            "transit.peak": { "model": "per_unit", "unit": "unit", "unit_price": "0.10", "meter": { "aggregation": "percentile", "percentile": 99.9, "bucket": "1h" } },
            "cdn.bytes": { "model": "per_unit", "unit": "byte", "unit_price": "0.01" } } } ] }
        """;

    private static string Record(string id, string sku, string quantity, string time) =>
        $"{{\"id\":\"{id}\",\"account\":\"acct-m\",\"sku\":\"{sku}\",\"quantity\":\"{quantity}\",\"time\":\"{time}\"}}\n";

    private async Task<(NpgsqlDataSource Db, string Cs, PriceCatalogSource Prices, StreamingOptions Options)> StartAsync(string topic, int partitions = 2)
    {
        var engine = await MeteredEngine.StartAsync(postgres, _kafka, topic, Book, Meters, partitions);
        return (engine.Db, engine.ConnectionString, engine.Prices, engine.Options);
    }

    private Task ProduceAsync(StreamingOptions options, string records) => MeteredEngine.ProduceAsync(_kafka, options.Topic, records);

    /// <summary>Per SKU of acct-m's November: the total's raw quantity, record count and amount, and the meter's quantity (null for a sum).</summary>
    private static async Task<Dictionary<string, (decimal Raw, long Count, decimal Amount, decimal? Metered)>> TotalsAsync(NpgsqlDataSource db)
    {
        var rows = new Dictionary<string, (decimal, long, decimal, decimal?)>();
        await using var cmd = db.CreateCommand("""
            SELECT t.sku, t.quantity, t.record_count, t.amount, m.quantity
            FROM billing_period_totals t
            LEFT JOIN meter_states m ON m.account = t.account AND m.sku = t.sku AND m.period_start = t.period_start AND m.dimension_group = t.dimension_group AND m.price_from = t.price_from
            WHERE t.account = 'acct-m' AND t.period_start = '2026-11-01T00:00:00Z'
            """);
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            rows[r.GetString(0)] = (r.GetDecimal(1), r.GetInt64(2), r.GetDecimal(3), r.IsDBNull(4) ? null : r.GetDecimal(4));
        }

        return rows;
    }

    [Fact]
    public async Task Each_meter_is_merged_across_a_restart_rated_on_its_quantity_and_billed_on_the_statement_and_late_usage_after_close_is_rated_on_top_of_the_period()
    {
        var (db, cs, prices, options) = await StartAsync("meters-worked");
        await using var _ = db;
        await using var __ = prices;
        await ProduceAsync(options, string.Concat(
            Record("a-1", "api.calls", "5", "2026-11-02T10:00:00Z"), Record("a-2", "api.calls", "7", "2026-11-02T11:00:00Z"), Record("a-2", "api.calls", "7", "2026-11-02T11:00:00Z"),
            Record("a-3", "api.calls", "9", "2026-11-03T10:00:00Z"),
            Record("g-1", "gpu.peak", "2", "2026-11-02T10:00:00Z"), Record("g-2", "gpu.peak", "7.5", "2026-11-03T10:00:00Z"), Record("g-3", "gpu.peak", "3", "2026-11-04T10:00:00Z"),
            Record("d-1", "db.floor", "4", "2026-11-02T10:00:00Z"), Record("d-2", "db.floor", "2", "2026-11-03T10:00:00Z"), Record("d-3", "db.floor", "6", "2026-11-04T10:00:00Z"),
            // 10 GB from Nov 1 00:00, 20 GB from Nov 11 00:00, 0 from Nov 21 12:00: 10 x 240 + 20 x 252 = 7,440 GB-hours.
            Record("s-1", "r2.storage", "10000", "2026-11-01T00:00:00Z"), Record("s-2", "r2.storage", "20000", "2026-11-11T00:00:00Z"),
            Record("s-3", "r2.storage", "0", "2026-11-21T12:00:00Z"),
            // Hour 10 holds 100 + 50, hour 11 holds 120: the busiest bucket is 150.
            Record("t-1", "transit.peak", "100", "2026-11-05T10:05:00Z"), Record("t-2", "transit.peak", "50", "2026-11-05T10:55:00Z"), Record("t-3", "transit.peak", "120", "2026-11-05T11:30:00Z"),
            Record("c-1", "cdn.bytes", "3", "2026-11-05T11:30:00Z")));
        await EngineRuns.RunUntilCommittedAsync(StreamingEngine.Rating(options, db, prices), db, options, 17);
        var first = await TotalsAsync(db);
        Assert.Equal((21m, 3L, 0.20m, (decimal?)3m), first["api.calls"]);
        Assert.Equal((12.5m, 3L, 300.00m, (decimal?)7.5m), first["gpu.peak"]);
        Assert.Equal((12m, 3L, 30.00m, (decimal?)2m), first["db.floor"]);
        Assert.Equal((30_000m, 3L, 0.15m, (decimal?)7_440_000m), first["r2.storage"]); // 7,440 GB-hours x 0.00002 = 0.1488
        Assert.Equal((270m, 3L, 15.00m, (decimal?)150m), first["transit.peak"]);
        Assert.Equal((3m, 1L, 0.03m, (decimal?)null), first["cdn.bytes"]);

        // A restart: the second engine merges into the stored states. A new peak of 9 GPUs; a late reading of 30 GB on
        // Nov 5 lands between the first two: 10 x 96 + 30 x 144 + 20 x 252 = 10,320 GB-hours; hour 12 takes 200.
        await ProduceAsync(options, string.Concat(
            Record("g-4", "gpu.peak", "9", "2026-11-06T10:00:00Z"), Record("g-1", "gpu.peak", "2", "2026-11-02T10:00:00Z"),
            Record("s-4", "r2.storage", "30000", "2026-11-05T00:00:00Z"),
            Record("t-4", "transit.peak", "200", "2026-11-05T12:00:00Z"), Record("d-4", "db.floor", "3", "2026-11-06T10:00:00Z")));
        await EngineRuns.RunUntilCommittedAsync(StreamingEngine.Rating(options, db, prices), db, options, 22);
        var second = await TotalsAsync(db);
        Assert.Equal((21.5m, 4L, 360.00m, (decimal?)9m), second["gpu.peak"]);
        Assert.Equal((15m, 4L, 30.00m, (decimal?)2m), second["db.floor"]);
        Assert.Equal((60_000m, 4L, 0.21m, (decimal?)10_320_000m), second["r2.storage"]); // 0.2064
        Assert.Equal((470m, 4L, 20.00m, (decimal?)200m), second["transit.peak"]);

        // The rated windows (outbox) carry every charge: per SKU they sum to the total's amount.
        var outbox = (await RatedWindowBlobOutbox.ReadAllRowsAsync(db, default)).Where(r => r.Account == "acct-m").GroupBy(r => r.Sku).ToList();
        Assert.NotEmpty(outbox);
        foreach (var sku in outbox)
        {
            Assert.Equal(second[sku.Key].Amount, sku.Sum(r => r.Amount));
        }

        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));

        // The statement prices each meter's quantity: the line shows the max, the GB-hours, the busiest hour.
        await using var api = await ApiTestHost.StartOnAsync(cs, prices);
        var client = api.Client(ApiTestHost.Token("billing:read"));
        async Task<Dictionary<string, (string Quantity, string Amount)>> LinesAsync()
        {
            using var response = await client.GetAsync("/v1/accounts/acct-m/statements/2026-11");
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            using var doc = System.Text.Json.JsonDocument.Parse(text);
            return doc.RootElement.GetProperty("usage").EnumerateArray().ToDictionary(
                l => l.GetProperty("sku").GetString()!,
                l => (l.GetProperty("recorded_quantity").GetString()!, l.GetProperty("amount").GetString()!));
        }

        var lines = await LinesAsync();
        Assert.Equal(("3", "0.20"), lines["api.calls"]);
        Assert.Equal(("9", "360.00"), lines["gpu.peak"]);
        Assert.Equal(("2", "30.00"), lines["db.floor"]);
        Assert.Equal(("10320000", "0.21"), lines["r2.storage"]);
        Assert.Equal(("200", "20.00"), lines["transit.peak"]);
        Assert.Equal(("3", "0.03"), lines["cdn.bytes"]);

        // A void of one GPU report cannot move a max (the next-largest report is not kept): refused, nothing written.
        var voidPeak = CorrectionRequest.Validate(new CorrectionInput("acct-m", "void", "k-1", "g-4", "gpu.peak", "2026-11-06T10:00:00Z", "9", null, Reason: "test"), "test", _ => null);
        var refused = await CorrectionStore.WriteAsync(db, voidPeak.Request!, prices.Current!.List!.Periods, new DateTimeOffset(2026, 11, 28, 0, 0, 0, TimeSpan.Zero),
            CorrectionHorizon.Default, CancellationToken.None, prices.Current);
        Assert.Equal((CorrectionWriteStatus.Refused, "metered_not_correctable"), (refused.Status, refused.Refusal!.Code));

        // After the close, a late record that raises the peak to 12 books what price(12) adds over price(9): 120.00;
        // one below the peak books nothing more. The closed total and its statement do not change.
        var november = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        var catalog = prices.Current!;
        await PeriodCloser.CloseAsync(db, november, CancellationToken.None, catalog.List!.Periods, now: november.AddMonths(1).AddMinutes(30), prices: catalog);
        await ProduceAsync(options, Record("g-5", "gpu.peak", "12", "2026-11-20T10:00:00Z") + Record("g-6", "gpu.peak", "4", "2026-11-21T10:00:00Z"));
        await EngineRuns.RunUntilCommittedAsync(StreamingEngine.Rating(options, db, prices), db, options, 24);
        Assert.Equal((21.5m, 4L, 360.00m, (decimal?)12m), (await TotalsAsync(db))["gpu.peak"]);
        await using (var cmd = db.CreateCommand("SELECT sum(amount), sum(record_count)::bigint FROM adjustments WHERE account = 'acct-m' AND sku = 'gpu.peak'"))
        {
            await using var r = await cmd.ExecuteReaderAsync();
            Assert.True(await r.ReadAsync());
            Assert.Equal((120.00m, 2L), (r.GetDecimal(0), r.GetInt64(1)));
        }

        Assert.Equal(("9", "360.00"), (await LinesAsync())["gpu.peak"]);

        // December's statement books the late usage: November rebuilt with the peak moved from 9 to 12 (the meter's
        // change, 3, not the late records' sum, 16) bills 480.00 instead of 360.00: one late_usage line of 120.00.
        using (var december = await client.GetAsync("/v1/accounts/acct-m/statements/2026-12"))
        {
            var text = await december.Content.ReadAsStringAsync();
            Assert.True(december.StatusCode == HttpStatusCode.OK, text);
            using var doc = System.Text.Json.JsonDocument.Parse(text);
            var late = doc.RootElement.GetProperty("adjustments").EnumerateArray()
                .Select(a => (a.GetProperty("kind").GetString(), a.GetProperty("sku").GetString(), a.GetProperty("quantity").GetString(), a.GetProperty("amount").GetString()))
                .ToList();
            Assert.Equal([("late_usage", "gpu.peak", "3", "120.00")], late);
        }
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
    }

    [Fact]
    public async Task Random_records_split_into_random_flushes_and_killed_at_random_records_commit_every_meter_equal_to_a_plain_reference_over_the_deduplicated_input()
    {
        var (db, _, prices, options) = await StartAsync("meters-property", partitions: 3);
        await using var __ = db;
        await using var ___ = prices;
        var random = new Random(20261202);
        var skus = new[] { "api.calls", "gpu.peak", "db.floor", "r2.storage", "transit.peak", "cdn.bytes" };
        var november = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
        var records = new List<(string Id, string Sku, long Nanos, DateTime Time)>();
        var text = new StringBuilder();
        for (var i = 0; i < 1_200; i++)
        {
            // Times spread over the month (so out of order across flushes), a tenth repeated as duplicates of earlier ids.
            var duplicate = records.Count > 0 && random.Next(10) == 0;
            var r = duplicate ? records[random.Next(records.Count)] : (
                Id: "r-" + i.ToString(CultureInfo.InvariantCulture),
                Sku: skus[random.Next(skus.Length)],
                Nanos: random.Next(0, 1_000_000) * 1_000L,
                Time: november.AddSeconds(random.Next(0, 29 * 86_400)));
            if (!duplicate)
            {
                records.Add(r);
            }

            text.Append(Record(r.Id, r.Sku, (r.Nanos / 1_000_000_000m).ToString(CultureInfo.InvariantCulture), r.Time.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)));
        }

        await ProduceAsync(options, text.ToString());
        var committed = 0L;
        for (var run = 0; run < 8 && committed < records.Count; run++)
        {
            // Each engine flushes every few records and is killed (no final flush, no clean leave) at a random record.
            var crashing = options with { MaxRecordsPerFlush = random.Next(20, 200), CrashAfterRecords = random.Next(100, 700) };
            await EngineRuns.RunUntilCommittedAsync(StreamingEngine.Rating(crashing, db, prices), db, options, records.Count);
            committed = await PipelineRun.CommittedAsync(db, options, CancellationToken.None);
        }

        await EngineRuns.RunUntilCommittedAsync(StreamingEngine.Rating(options, db, prices), db, options, records.Count);
        var totals = await TotalsAsync(db);
        static decimal Units(long nanos) => nanos / 1_000_000_000m;
        var bySku = records.GroupBy(r => r.Sku).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var (sku, list) in bySku)
        {
            var ordered = list.OrderBy(r => r.Time).ThenByDescending(r => r.Nanos).ToList();
            decimal? expected = sku switch
            {
                "api.calls" => list.Count,
                "gpu.peak" => Units(list.Max(r => r.Nanos)),
                "db.floor" => Units(list.Min(r => r.Nanos)),
                // Every reading holds until the next one (the higher of two at one instant), the last until Dec 1.
                "r2.storage" => GaugeHours(ordered.DistinctBy(r => r.Time).ToList(), november.AddMonths(1)),
                "transit.peak" => Units(list.GroupBy(r => r.Time.Ticks / TimeSpan.TicksPerHour).Max(g => g.Sum(r => r.Nanos))),
                _ => null,
            };
            var total = totals[sku];
            Assert.Equal((Units(list.Sum(r => r.Nanos)), (long)list.Count, expected), (total.Raw, total.Count, total.Metered));
        }

        // The growing states (readings, buckets) were stored as a base plus per-flush deltas, not rewritten whole: the
        // quantities above were read back through them by each restarted engine.
        await using var deltas = db.CreateCommand("SELECT count(DISTINCT sku) FROM meter_state_deltas");
        Assert.True((long)(await deltas.ExecuteScalarAsync())! >= 1, "no state was stored as deltas");

        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
    }

    [Fact]
    public async Task A_version_taking_effect_inside_the_period_meters_its_own_range_a_max_before_and_a_max_after_on_two_lines()
    {
        const string TwoVersions = """
            { "id": "peaks-list", "currency": "USD", "versions": [
              { "version": "nov", "effective_from": "2026-11-01T00:00:00Z", "effective_to": "2026-11-15T00:00:00Z",
                "prices": { "gpu.peak": { "model": "per_unit", "unit": "GPU", "unit_price": "40.00", "meter": { "aggregation": "max" } } } },
              { "version": "mid", "effective_from": "2026-11-15T00:00:00Z",
                "prices": { "gpu.peak": { "model": "per_unit", "unit": "GPU", "unit_price": "50.00", "meter": { "aggregation": "max" } } } } ] }
            """;
        var engine = await MeteredEngine.StartAsync(postgres, _kafka, "meters-mid-period", "peaks-list", TwoVersions);
        await using var _ = engine.Db;
        await using var __ = engine.Prices;
        await engine.ProduceAsync(string.Concat(
            Record("p-1", "gpu.peak", "9", "2026-11-03T10:00:00Z"), Record("p-2", "gpu.peak", "5", "2026-11-10T10:00:00Z"),
            Record("p-3", "gpu.peak", "4", "2026-11-20T10:00:00Z"), Record("p-4", "gpu.peak", "6", "2026-11-25T10:00:00Z")));
        await EngineRuns.RunUntilCommittedAsync(StreamingEngine.Rating(engine.Options, engine.Db, engine.Prices), engine.Db, engine.Options, 4);

        // Before Nov 15 the peak is 9 at 40.00; from Nov 15 the peak of that range alone, 6, at 50.00: never one max
        // of the whole period priced on top of another.
        await using var api = await ApiTestHost.StartOnAsync(engine.ConnectionString, engine.Prices);
        using var response = await api.Client(ApiTestHost.Token("billing:read")).GetAsync("/v1/accounts/acct-m/statements/2026-11");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var doc = System.Text.Json.JsonDocument.Parse(text);
        var lines = doc.RootElement.GetProperty("usage").EnumerateArray()
            .Select(l => (l.GetProperty("recorded_quantity").GetString(), l.GetProperty("amount").GetString(), l.GetProperty("price_book_version").GetString()))
            .ToList();
        Assert.Equal([("9", "360.00", "nov"), ("6", "300.00", "mid")], lines);
        Assert.Empty(await LedgerVerifier.VerifyAsync(engine.Db, engine.Options.ConsumerGroup, engine.Options.Topic, null, CancellationToken.None));
    }

    // The integral of a step function in unit-hours, truncated at 9 fractional digits: the plain reference for time_weighted.
    private static decimal GaugeHours(List<(string Id, string Sku, long Nanos, DateTime Time)> readings, DateTime end)
    {
        var nanoTicks = System.Numerics.BigInteger.Zero;
        for (var i = 0; i < readings.Count; i++)
        {
            var until = i + 1 < readings.Count ? readings[i + 1].Time : end;
            nanoTicks += new System.Numerics.BigInteger(readings[i].Nanos) * (until - readings[i].Time).Ticks;
        }

        return (decimal)(nanoTicks / TimeSpan.TicksPerHour) / 1_000_000_000m;
    }
}
