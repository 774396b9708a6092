using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using Metering.Aggregates.Dedup;
using Metering.DevKit.Kafka;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Verification;
using Metering.Redis;
using Metering.Tests.Redis;
using Metering.Tests.Storage;
using Metering.Tests.Streaming;
using Metering.Web.HttpIngest;
using Npgsql;

namespace Metering.Tests.Ingest;

/// <summary>
/// POST /v1/events with a record that re-uses an id for another payload (real embedded Kafka, real Redis, and the
/// real engine behind it): receipt <c>conflict</c>, not produced, counted; the same payload again stays <c>duplicate</c>.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class HttpIngestConflictTests(PostgresFixture postgres, RedisFixture redis) : IClassFixture<RedisFixture>, IDisposable
{
    private const int Partitions = 2;
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var d in _owned)
        {
            d.Dispose();
        }

        _kafka.Dispose();
    }

    private static readonly string Time = DateTime.UtcNow.AddMinutes(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static string Record(string id, string quantity) =>
        $$$"""{"id":"{{{id}}}","account":"acct-1","sku":"api.calls","quantity":"{{{quantity}}}","time":"{{{Time}}}","dimensions":{"region":"eu"}}""";

    private (HttpIngestService Service, string Topic) Service(bool withRedis)
    {
        var topic = "conflict-" + Guid.NewGuid().ToString("N")[..8];
        _kafka.CreateTopic(topic, Partitions);
        var mux = withRedis ? redis.Connect() : null;
        if (mux is not null)
        {
            _owned.Add(mux);
        }

        var service = new HttpIngestService(new HttpIngestOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, DeliveryTimeout = TimeSpan.FromSeconds(10) }, mux);
        _owned.Add(service);
        return (service, topic);
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }

    private static JsonElement[] Receipts(JsonElement body) => [.. body.GetProperty("receipts").EnumerateArray()];

    private static string[] Statuses(JsonElement body) => [.. Receipts(body).Select(r => r.GetProperty("status").GetString()!)];

    private static string[] Quantities(string bootstrap, string topic, int count) =>
        [.. IngestTestHost.ConsumeAll(bootstrap, topic, Partitions, count, TimeSpan.FromSeconds(20))
            .Select(r => JsonDocument.Parse(r.Message.Value).RootElement.GetProperty("quantity").GetString()!)];

    /// <summary>Counts what the edge adds to <c>metering.ingest.http.records</c> with status conflict.</summary>
    private sealed class EdgeConflictCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _total;

        public EdgeConflictCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Metering" && instrument.Name == "metering.ingest.http.records")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "status" && (string?)tag.Value == "conflict")
                    {
                        Interlocked.Add(ref _total, value);
                    }
                }
            });
            _listener.Start();
        }

        public long Total => Interlocked.Read(ref _total);

        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public async Task The_same_id_with_another_quantity_in_one_request_gets_a_conflict_receipt_and_is_not_produced()
    {
        var (service, topic) = Service(withRedis: false);
        await using var host = await IngestTestHost.StartAsync(service);
        using var counter = new EdgeConflictCounter();
        using var response = await host.Bearer("ingest:write").PostAsync("/v1/events", IngestTestHost.Ndjson(Record("e-1", "1.5") + "\n" + Record("e-1", "2") + "\n" + Record("e-1", "1.50")));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await Json(response);
        Assert.Equal(["accepted", "conflict", "duplicate"], Statuses(body));
        var conflict = Receipts(body)[1];
        Assert.Equal("conflict", conflict.GetProperty("reason").GetString());
        Assert.Contains(ConflictDetail.Text, conflict.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("id 'e-1' of account 'acct-1'", conflict.GetProperty("detail").GetString(), StringComparison.Ordinal);
        // A conflict is a rejected record: records = accepted + duplicate + rejected still holds.
        Assert.Equal((3, 1, 1, 1), (body.GetProperty("records").GetInt32(), body.GetProperty("accepted").GetInt32(), body.GetProperty("duplicate").GetInt32(), body.GetProperty("rejected").GetInt32()));
        Assert.True(counter.Total >= 1, $"metering.ingest.http.records{{status=conflict}} moved by {counter.Total}");
        Assert.Equal(["1.5"], Quantities(service.Options.BootstrapServers, topic, 1));
    }

    [Fact]
    public async Task With_redis_a_later_request_re_using_an_id_for_another_quantity_gets_conflict_and_the_same_payload_duplicate()
    {
        var (service, topic) = Service(withRedis: true);
        await using var host = await IngestTestHost.StartAsync(service);
        using var client = host.Bearer("ingest:write");
        using var first = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("r-1", "1.5")));
        Assert.Equal(["accepted"], Statuses(await Json(first)));
        using var second = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("r-1", "2") + "\n" + Record("r-1", "1.500")));
        var body = await Json(second);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        // The second record is judged against Redis (the first request's mark), not against the refused one before it.
        Assert.Equal(["conflict", "duplicate"], Statuses(body));
        Assert.Equal("conflict", Receipts(body)[0].GetProperty("reason").GetString());
        Assert.Contains("the shared dedup horizon", Receipts(body)[0].GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(["1.5"], Quantities(service.Options.BootstrapServers, topic, 1));
    }

    [Fact]
    public async Task An_id_the_engine_counted_with_another_payload_is_a_conflict_at_the_edge()
    {
        var (service, topic) = Service(withRedis: true);
        await using var host = await IngestTestHost.StartAsync(service);
        using var mux = redis.Connect();
        var probe = service.NewAdmission();
        Assert.Equal(Metering.Aggregates.Records.RejectReason.None, probe.Admit(System.Text.Encoding.UTF8.GetBytes(Record("c-1", "7")), out var counted, out _));
        // The engine's shared horizon (its key space), as StreamingEngine marks it after its commit.
        await new RedisDedup(mux, $"metering:{topic}:", TimeSpan.FromHours(1)).MarkAsync([new SeenId(counted.Fingerprint, counted.PayloadDigest, counted.TimeTicks)]);

        using var response = await host.Bearer("ingest:write").PostAsync("/v1/events", IngestTestHost.Ndjson(Record("c-1", "8") + "\n" + Record("c-2", "1")));
        Assert.Equal(["conflict", "accepted"], Statuses(await Json(response)));
        using var again = await host.Bearer("ingest:write").PostAsync("/v1/events", IngestTestHost.Ndjson(Record("c-1", "7.0")));
        Assert.Equal(["duplicate"], Statuses(await Json(again)));
    }

    [Fact]
    public async Task Without_redis_a_conflict_across_requests_reaches_the_engine_and_is_its_conflict_dead_letter()
    {
        // The edge alone cannot see across requests: both are accepted and produced; the engine's own horizon, the
        // final guard, counts the first and dead-letters the second with reason conflict.
        var (service, topic) = Service(withRedis: false);
        await using var host = await IngestTestHost.StartAsync(service);
        using var client = host.Bearer("ingest:write");
        using (var first = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("x-1", "1.5"))))
        {
            Assert.Equal(["accepted"], Statuses(await Json(first)));
        }

        using (var second = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("x-1", "4"))))
        {
            Assert.Equal(["accepted"], Statuses(await Json(second)));
        }

        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, FlushInterval = TimeSpan.FromMilliseconds(200), DeadLetterTopic = "" };
        var engine = new StreamingEngine(options, db, null);
        await EngineRuns.RunUntilCommittedAsync(engine, db, options, 2);

        await using (var cmd = db.CreateCommand("SELECT sum(quantity) FROM billing_period_totals WHERE account = 'acct-1'"))
        {
            Assert.Equal(1.5m, (decimal)(await cmd.ExecuteScalarAsync())!);
        }

        var letter = Assert.Single(await StreamingConflictTests.DeadLettersAsync(db));
        Assert.Equal("conflict", letter.Reason);
        Assert.Contains("\"4\"", letter.Raw, StringComparison.Ordinal);
        Assert.Equal(1, engine.Conflicts);
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
    }
}
