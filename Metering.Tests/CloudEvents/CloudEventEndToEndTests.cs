using System.Net;
using System.Text;
using Confluent.Kafka;
using Metering.DevKit.Kafka;
using Metering.Ingest.Pipeline;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Verification;
using Metering.Tests.Ingest;
using Metering.Tests.Storage;
using Metering.Tests.Streaming;
using Metering.Web.HttpIngest;
using Npgsql;

namespace Metering.Tests.CloudEvents;

/// <summary>
/// CloudEvents end to end: through the HTTP edge and straight onto the topic (Kafka binary and structured content
/// mode), consumed by the real engine (embedded Kafka, real PostgreSQL) into committed totals, each counted once.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class CloudEventEndToEndTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    private async Task<(NpgsqlDataSource Db, StreamingOptions Options)> SetUpAsync(string name, bool withMapping = true)
    {
        var topic = name + "-" + Guid.NewGuid().ToString("N")[..8];
        _kafka.CreateTopic(topic, 2);
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        var options = new StreamingOptions
        {
            BootstrapServers = _kafka.BootstrapServers,
            Topic = topic,
            FlushInterval = TimeSpan.FromMilliseconds(200),
            DeadLetterTopic = "",
            Pipeline = new AggregationPipelineOptions { EventMapping = withMapping ? CloudEventSamples.Mapping() : null },
        };
        return (NpgsqlDataSource.Create(cs), options);
    }

    private static async Task<Dictionary<(string Account, string Sku), decimal>> TotalsAsync(NpgsqlDataSource db)
    {
        var totals = new Dictionary<(string, string), decimal>();
        await using var cmd = db.CreateCommand("SELECT account, sku, sum(quantity) FROM billing_period_totals GROUP BY account, sku");
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            totals[(reader.GetString(0), reader.GetString(1))] = reader.GetDecimal(2);
        }

        return totals;
    }

    private static Headers Binary(string id, string source, string type, string? subject, string contentType = "application/json")
    {
        var headers = new Headers
        {
            { "ce_specversion", "1.0"u8.ToArray() },
            { "ce_id", Encoding.UTF8.GetBytes(id) },
            { "ce_source", Encoding.UTF8.GetBytes(source) },
            { "ce_type", Encoding.UTF8.GetBytes(type) },
            { "ce_time", Encoding.UTF8.GetBytes(CloudEventSamples.Time) },
            { "content-type", Encoding.UTF8.GetBytes(contentType) },
        };
        if (subject is not null)
        {
            headers.Add("ce_subject", Encoding.UTF8.GetBytes(subject));
        }

        return headers;
    }

    private static void Produce(string bootstrap, string topic, params (Headers? Headers, string Value)[] messages)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, LingerMs = 5 }).Build();
        foreach (var (headers, value) in messages)
        {
            producer.Produce(topic, new Message<string, byte[]> { Key = "k", Value = Encoding.UTF8.GetBytes(value), Headers = headers });
        }

        producer.Flush(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Events_sent_twice_over_http_land_in_committed_totals_once()
    {
        var (db, options) = await SetUpAsync("ce-e2e-http");
        await using (db)
        {
            using var service = new HttpIngestService(new HttpIngestOptions { BootstrapServers = _kafka.BootstrapServers, Topic = options.Topic, DeliveryTimeout = TimeSpan.FromSeconds(10) });
            await using var host = await IngestTestHost.StartAsync(service, CloudEventSamples.Mapping());
            using var client = host.Bearer("ingest:write");
            string[] events =
            [
                CloudEventSamples.Egress("h-1", "acct-1", "1000.5"),
                CloudEventSamples.Egress("h-2", "acct-1", "24"),
                CloudEventSamples.Egress("h-1", "acct-1", "7", source: "/edge/ams1"),
                CloudEventSamples.ApiCall("h-3", "acct-2", "3"),
            ];
            foreach (var attempt in new[] { 1, 2 })
            {
                // The second request is a client's retry of the whole batch: without Redis the edge accepts it again,
                // and the engine's dedup (source + id) counts each event once.
                using var response = await client.PostAsync("/v1/events", CloudEventHttpTests.Batch(events));
                Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"attempt {attempt}: {response.StatusCode}");
                Assert.Equal(["accepted", "accepted", "accepted", "accepted"], CloudEventHttpTests.Column(await CloudEventHttpTests.Json(response), "status"));
            }

            // The edge produced the mapped native records: the engine needs no mapping for them.
            var engine = new StreamingEngine(options with { Pipeline = new AggregationPipelineOptions() }, db, null);
            await EngineRuns.RunUntilCommittedAsync(engine, db, options, 8);

            var totals = await TotalsAsync(db);
            Assert.Equal(1031.5m, totals[("acct-1", "cdn.egress.bytes")]);
            Assert.Equal(3m, totals[("acct-2", "api.calls")]);
            Assert.Equal(2, totals.Count);
            Assert.Empty(await StreamingConflictTests.DeadLettersAsync(db));
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
        }
    }

    [Fact]
    public async Task Kafka_binary_and_structured_events_land_in_committed_totals_once_next_to_native_records()
    {
        var (db, options) = await SetUpAsync("ce-e2e-kafka");
        await using (db)
        {
            var native = $$$"""{"id":"n-1","account":"acct-1","sku":"cdn.egress.bytes","quantity":"0.5","time":"{{{CloudEventSamples.Time}}}"}""";
            Produce(_kafka.BootstrapServers, options.Topic,
                (Binary("k-1", "/edge/fra1", "com.example.cdn.egress", "acct-1"), """{"bytes":100,"region":"eu"}"""),
                (Binary("k-1", "/edge/fra1", "com.example.cdn.egress", "acct-1"), """{"bytes":100,"region":"eu"}"""),   // resent: duplicate
                (Binary("k-1", "/edge/ams1", "com.example.cdn.egress", "acct-1"), """{"bytes":20,"region":"eu"}"""),    // other source: counted
                (new Headers { { "content-type", Encoding.UTF8.GetBytes("application/cloudevents+json") } }, CloudEventSamples.ApiCall("k-2", "acct-2", "5")),
                (new Headers { { "content-type", Encoding.UTF8.GetBytes("application/cloudevents+json") } }, CloudEventSamples.ApiCall("k-2", "acct-2", "5")), // duplicate
                (Binary("k-3", "/edge/fra1", "com.example.unknown", "acct-1"), """{"bytes":1}"""),
                (Binary("k-4", "/edge/fra1", "com.example.cdn.egress", "acct-1"), """{"bytes":"1.0000000001"}"""),
                (Binary("k-5", "/edge/fra1", "com.example.cdn.egress", null), """{"bytes":1}"""),
                (null, native));
            var engine = new StreamingEngine(options, db, null);
            await EngineRuns.RunUntilCommittedAsync(engine, db, options, 9);

            var totals = await TotalsAsync(db);
            Assert.Equal(120.5m, totals[("acct-1", "cdn.egress.bytes")]);
            Assert.Equal(5m, totals[("acct-2", "api.calls")]);
            Assert.Equal(2, totals.Count);
            var letters = await StreamingConflictTests.DeadLettersAsync(db);
            Assert.Equal(["missing_field", "quantity_precision", "unmapped_event_type"], letters.Select(l => l.Reason).Order(StringComparer.Ordinal));
            Assert.Contains(letters, l => l.Reason == "unmapped_event_type" && l.Detail.Contains("CloudEvent 'k-3' from '/edge/fra1'", StringComparison.Ordinal));
            Assert.Contains(letters, l => l.Reason == "missing_field" && l.Detail.Contains("attribute 'subject'", StringComparison.Ordinal));
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
        }
    }

    [Fact]
    public async Task Without_a_mapping_the_engine_reads_a_binary_mode_message_as_a_native_record_and_dead_letters_it()
    {
        var (db, options) = await SetUpAsync("ce-e2e-nomap", withMapping: false);
        await using (db)
        {
            Produce(_kafka.BootstrapServers, options.Topic, (Binary("k-1", "/edge/fra1", "com.example.cdn.egress", "acct-1"), """{"bytes":100,"region":"eu"}"""));
            var engine = new StreamingEngine(options, db, null);
            await EngineRuns.RunUntilCommittedAsync(engine, db, options, 1);

            Assert.Empty(await TotalsAsync(db));
            Assert.Equal("missing_field", Assert.Single(await StreamingConflictTests.DeadLettersAsync(db)).Reason);
        }
    }
}
