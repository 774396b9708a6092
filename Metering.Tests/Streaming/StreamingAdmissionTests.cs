using System.Text;
using Confluent.Kafka;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Interning;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.Ingest.Pipeline;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Outbox;
using Metering.Ledger.Verification;
using Metering.UnitTests.Decoding;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>
/// The admission rule through the real streaming path (Kafka mock cluster, real PostgreSQL): hostile records are
/// dead letters with their reason and nothing else is disturbed; the engine's options are honoured.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class StreamingAdmissionTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);


    internal static string Record(string id, string account, string sku, string quantity, DateTimeOffset time, string? dimensions = null) =>
        "{\"id\":" + Json(id) + ",\"account\":" + Json(account) + ",\"sku\":" + Json(sku) + ",\"quantity\":\"" + quantity +
        "\",\"time\":\"" + time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture) + "\"" +
        (dimensions is null ? "" : ",\"dimensions\":" + dimensions) + "}";

    private static string Json(string s) => System.Text.Json.JsonSerializer.Serialize(s);

    private async Task<(NpgsqlDataSource Db, StreamingOptions Options)> SetUpAsync(string topic, Func<StreamingOptions, StreamingOptions>? configure = null)
    {
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        _kafka.CreateTopic(topic, 3, 1);
        var options = new StreamingOptions
        {
            BootstrapServers = _kafka.BootstrapServers, Topic = topic, FlushInterval = TimeSpan.FromMilliseconds(200), DeadLetterTopic = "",
            Pipeline = new AggregationPipelineOptions { Decoder = new DecoderOptions { Clock = new MovableClock(Now) } },
        };
        return (NpgsqlDataSource.Create(connectionString), configure is null ? options : configure(options));
    }

    private void Produce(string topic, IEnumerable<(string Key, string Value)> records)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers, Acks = Acks.All, LingerMs = 5 }).Build();
        foreach (var (key, value) in records)
        {
            producer.Produce(topic, new Message<string, byte[]> { Key = key, Value = Encoding.UTF8.GetBytes(value) });
        }

        producer.Flush(TimeSpan.FromSeconds(30));
    }

    private static async Task<Dictionary<string, decimal>> QuantitiesAsync(NpgsqlDataSource db)
    {
        await using var cmd = db.CreateCommand("SELECT account || '|' || sku, sum(quantity) FROM billing_period_totals GROUP BY 1");
        await using var reader = await cmd.ExecuteReaderAsync();
        var result = new Dictionary<string, decimal>();
        while (await reader.ReadAsync())
        {
            result[reader.GetString(0)] = reader.GetDecimal(1);
        }

        return result;
    }

    private static async Task<List<(string Reason, string Detail)>> DeadLettersAsync(NpgsqlDataSource db)
    {
        await using var cmd = db.CreateCommand("SELECT reason, detail FROM dead_letters ORDER BY partition, \"offset\"");
        await using var reader = await cmd.ExecuteReaderAsync();
        var result = new List<(string, string)>();
        while (await reader.ReadAsync())
        {
            result.Add((reader.GetString(0), reader.GetString(1)));
        }

        return result;
    }

    [Fact]
    public async Task A_nul_account_and_a_nul_sku_mid_stream_are_dead_letters_and_every_other_account_is_booked_exactly()
    {
        var (db, options) = await SetUpAsync("admission-nul");
        await using (db)
        {
            var records = new List<(string, string)>();
            for (var i = 0; i < 300; i++)
            {
                var account = "acct-" + (i % 7);
                records.Add((account, Record("e-" + i, account, "api.requests", "1.5", Now.AddMinutes(-5))));
                if (i == 150)
                {
                    records.Add(("acct-3", Record("nul-account", "acct-3\u0000", "api.requests", "1", Now.AddMinutes(-5))));
                    records.Add(("acct-3", Record("nul-sku", "acct-3", "api\u0000requests", "1", Now.AddMinutes(-5))));
                }
            }

            Produce(options.Topic, records);
            var engine = new StreamingEngine(options, db, null);
            await EngineRuns.RunUntilCommittedAsync(engine, db, options, records.Count);

            var quantities = await QuantitiesAsync(db);
            for (var a = 0; a < 7; a++)
            {
                var count = Enumerable.Range(0, 300).Count(i => i % 7 == a);
                Assert.Equal(count * 1.5m, quantities["acct-" + a + "|api.requests"]);
            }

            Assert.Equal(7, quantities.Count);
            var letters = await DeadLettersAsync(db);
            Assert.Equal(2, letters.Count);
            Assert.All(letters, l => Assert.Equal("invalid_identifier", l.Reason));
            Assert.Contains(letters, l => l.Detail.Contains("account contains the control character U+0000", StringComparison.Ordinal));
            Assert.Contains(letters, l => l.Detail.Contains("sku contains the control character U+0000", StringComparison.Ordinal));
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
        }
    }

    [Fact]
    public async Task A_quiet_worker_accepts_a_record_timed_thirty_seconds_before_its_clock()
    {
        var clock = new MovableClock(Now);
        var (db, options) = await SetUpAsync("admission-quiet", o => o with { Pipeline = o.Pipeline with { Decoder = new DecoderOptions { Clock = clock } } });
        await using (db)
        {
            using var stop = new CancellationTokenSource();
            var engine = new StreamingEngine(options, db, null);
            var run = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
            Produce(options.Topic, Enumerable.Range(0, 5).Select(i => ("acct-1", Record("early-" + i, "acct-1", "api.requests", "1", Now.AddSeconds(-30)))));
            await WaitCommittedAsync(db, options, 5, run);

            // An hour of silence later (fewer than 10 records in the worker's life), a record of now-30s arrives.
            clock.Now = Now.AddHours(1);
            Produce(options.Topic, [("acct-1", Record("later", "acct-1", "api.requests", "1", clock.Now.AddSeconds(-30)))]);
            await WaitCommittedAsync(db, options, 6, run);
            await stop.CancelAsync();
            await run;

            Assert.Empty(await DeadLettersAsync(db));
            Assert.Equal(6m, (await QuantitiesAsync(db))["acct-1|api.requests"]);
        }
    }

    private static async Task WaitCommittedAsync(NpgsqlDataSource db, StreamingOptions options, long expected, Task run)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < expected && DateTime.UtcNow < deadline && !run.IsCompleted)
        {
            await Task.Delay(50);
        }

        Assert.Equal(expected, await PipelineRun.CommittedAsync(db, options, CancellationToken.None));
    }

    [Fact]
    public async Task One_tenant_with_more_skus_than_the_catalog_holds_never_gets_another_tenants_records_refused()
    {
        // A catalog of 500 SKUs; tenant "flood" sends 1,600 distinct SKUs, interleaved with tenant "victim"'s new SKUs.
        var (db, options) = await SetUpAsync("admission-flood", o => o with { Pipeline = o.Pipeline with { MaxSkus = 500 } });
        await using (db)
        {
            var records = new List<(string, string)>();
            for (var i = 0; i < 1_600; i++)
            {
                records.Add(("flood", Record("f-" + i, "flood", "made.up." + i, "1", Now.AddMinutes(-1))));
                if (i % 100 == 99)
                {
                    records.Add(("victim", Record("v-" + i, "victim", "victim.sku." + i, "2", Now.AddMinutes(-1))));
                }
            }

            Produce(options.Topic, records);
            var engine = new StreamingEngine(options, db, null);
            await EngineRuns.RunUntilCommittedAsync(engine, db, options, records.Count);

            Assert.Empty(await DeadLettersAsync(db));
            var quantities = await QuantitiesAsync(db);
            Assert.Equal(1_600 + 16, quantities.Count);
            Assert.All(Enumerable.Range(0, 16), k => Assert.Equal(2m, quantities[$"victim|victim.sku.{(k * 100) + 99}"]));
            Assert.True(engine.CatalogRenewals >= 3, $"the catalog was renewed {engine.CatalogRenewals} time(s)");
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
        }
    }

    [Fact]
    public async Task Keep_dimensions_is_honoured_by_the_streaming_engine()
    {
        var (db, options) = await SetUpAsync("admission-dims", o => o with { Pipeline = o.Pipeline with { Dimensions = DimensionPolicy.Parse("cdn.egress.bytes=region") } });
        await using (db)
        {
            Produce(options.Topic,
            [
                ("a", Record("1", "a", "cdn.egress.bytes", "10", Now.AddMinutes(-1), """{"region":"eu","colo":"FRA"}""")),
                ("a", Record("2", "a", "cdn.egress.bytes", "5", Now.AddMinutes(-1), """{"region":"us","colo":"IAD"}""")),
                ("a", Record("3", "a", "cdn.egress.bytes", "1", Now.AddMinutes(-1), """{"region":"eu","colo":"AMS"}""")),
            ]);
            var engine = new StreamingEngine(options, db, null);
            await EngineRuns.RunUntilCommittedAsync(engine, db, options, 3);
            var rows = (await RatedWindowBlobOutbox.ReadAllRowsAsync(db, default))
                .GroupBy(r => System.Text.Json.JsonDocument.Parse(r.Dimensions).RootElement.GetProperty("region").GetString()!)
                .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (g.Key, g.Sum(r => r.Quantity)));
            Assert.Equal([("eu", 11m), ("us", 5m)], rows);
        }
    }

    [Fact]
    public async Task On_key_limit_reject_dead_letters_the_records_past_the_limit_in_the_streaming_engine()
    {
        var (db, options) = await SetUpAsync("admission-keylimit", o => o with
        {
            FlushInterval = TimeSpan.FromMinutes(5), // one generation holds every record
            Pipeline = o.Pipeline with { Aggregator = new AggregatorOptions { KeyLimit = 10, OnKeyLimit = KeyLimitPolicy.Reject } },
        });
        await using (db)
        {
            _kafka.CreateTopic(options.Topic + "-single", 1, 1);
            options = options with { Topic = options.Topic + "-single" };
            // The engine's first flush goes with its first chunk, however few records that holds, and empties the
            // table: a warm-up record takes it, so the 25 records below all land in one later generation, whatever
            // the consumer's chunking (before this, a first chunk of one record left room for 11 keys: 14 letters).
            Produce(options.Topic, [("k", Record("warm-up", "acct-warm", "api.requests", "1", Now.AddMinutes(-1)))]);
            var engine = new StreamingEngine(options, db, null);
            using var stop = new CancellationTokenSource();
            var run = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < 1 && DateTime.UtcNow < deadline && !run.IsCompleted)
            {
                await Task.Delay(50);
            }

            Produce(options.Topic, Enumerable.Range(0, 25).Select(i => ("k", Record("r-" + i, "acct-" + i, "api.requests", "1", Now.AddMinutes(-1)))));
            while (engine.Read < 26 && DateTime.UtcNow < deadline && !run.IsCompleted)
            {
                await Task.Delay(50);
            }

            await stop.CancelAsync();
            await run; // a clean stop flushes what was read
            var letters = await DeadLettersAsync(db);
            Assert.Equal(15, letters.Count);
            Assert.All(letters, l => Assert.Equal("aggregate_key_limit", l.Reason));
            Assert.Equal(11, (await QuantitiesAsync(db)).Count); // the warm-up's account and the 10 that fit
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
        }
    }
}
