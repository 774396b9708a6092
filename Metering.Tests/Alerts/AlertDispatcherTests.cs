using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Metering.DevKit.Kafka;
using Metering.Ingest.Alerts;
using Metering.Ledger.Migrations;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Alerts;

/// <summary>The alerts outbox delivered at least once to Kafka and a webhook, always with the alert's stable id.</summary>
[Collection(PostgresCollection.Name)]
public sealed class AlertDispatcherTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    private static async Task<NpgsqlDataSource> LedgerWithAlertsAsync(PostgresFixture postgres, int alerts)
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        var db = NpgsqlDataSource.Create(cs);
        for (var i = 1; i <= alerts; i++)
        {
            await using var cmd = db.CreateCommand("""
                INSERT INTO alerts (alert_key, quota_id, account, sku, metric, threshold, value_before, value_at_crossing, currency, period_start, period_end)
                VALUES ($1 || ':2026-11-01T00:00:00Z', $1, 'acct-' || $1, 'api.calls', 'quantity', 1500, 1400.5, 1600, NULL, '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z')
                """);
            cmd.Parameters.Add(new() { Value = (long)i });
            await cmd.ExecuteNonQueryAsync();
        }

        return db;
    }

    private static async Task<List<(Guid Id, bool Kafka, bool Webhook, int Attempts, string? Error)>> StateAsync(NpgsqlDataSource db)
    {
        await using var cmd = db.CreateCommand("SELECT id, delivered_kafka_at IS NOT NULL, delivered_webhook_at IS NOT NULL, attempts, last_error FROM alerts ORDER BY quota_id");
        await using var r = await cmd.ExecuteReaderAsync();
        var list = new List<(Guid, bool, bool, int, string?)>();
        while (await r.ReadAsync())
        {
            list.Add((r.GetGuid(0), r.GetBoolean(1), r.GetBoolean(2), r.GetInt32(3), r.IsDBNull(4) ? null : r.GetString(4)));
        }

        return list;
    }

    private List<(string Key, string? HeaderId, JsonElement Body)> ConsumeAll(string topic, int expected)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = _kafka.BootstrapServers,
            GroupId = "alerts-test-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var list = new List<(string, string?, JsonElement)>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (list.Count < expected && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { Message: { } m })
            {
                var id = m.Headers.TryGetLastBytes(AlertDispatcher.AlertIdHeader, out var bytes) ? Encoding.ASCII.GetString(bytes) : null;
                list.Add((m.Key, id, JsonDocument.Parse(m.Value).RootElement.Clone()));
            }
        }

        // Nothing beyond what was expected.
        Assert.Null(consumer.Consume(TimeSpan.FromMilliseconds(500))?.Message);
        return list;
    }

    [Fact]
    public async Task The_dispatcher_delivers_to_kafka_and_the_webhook_retrying_a_500_and_records_each_delivery()
    {
        const string Topic = "alerts-deliver";
        _kafka.CreateTopic(Topic, 1, 1);
        using var webhook = new RecordingWebhook(500);
        await using var db = await LedgerWithAlertsAsync(postgres, 2);
        using (var dispatcher = new AlertDispatcher(db, new AlertDispatcherOptions
        {
            BootstrapServers = _kafka.BootstrapServers, Topic = Topic, Webhook = webhook.Url, RetryDelay = TimeSpan.FromMilliseconds(50),
        }))
        {
            Assert.Equal(new DispatchResult(2, 2, 2, 0), await dispatcher.DispatchOnceAsync(CancellationToken.None));
            Assert.Equal(default, await dispatcher.DispatchOnceAsync(CancellationToken.None)); // nothing left to deliver
        }

        var state = await StateAsync(db);
        Assert.All(state, s => Assert.True(s.Kafka && s.Webhook));
        Assert.Equal(3, state[0].Attempts); // Kafka once, the webhook twice (500, then 200)
        Assert.Equal("webhook: HTTP 500 Internal Server Error", state[0].Error);
        Assert.Equal((2, (string?)null), (state[1].Attempts, state[1].Error));

        var requests = webhook.Requests.ToList();
        Assert.Equal(3, requests.Count);
        Assert.Equal([500, 200, 200], requests.Select(r => r.Status));
        Assert.Equal(state[0].Id.ToString("D"), requests[0].Id);
        Assert.Equal(requests[0].Id, requests[1].Id); // the retry carries the same id
        Assert.StartsWith("application/json", requests[1].ContentType, StringComparison.Ordinal);
        using (var body = JsonDocument.Parse(requests[1].Body))
        {
            Assert.Equal(state[0].Id.ToString("D"), body.RootElement.GetProperty("id").GetString());
            Assert.Equal("1500", body.RootElement.GetProperty("threshold").GetString());
            Assert.Equal("1400.5", body.RootElement.GetProperty("value_before").GetString());
            Assert.Equal("1600", body.RootElement.GetProperty("value").GetString());
            Assert.Equal("2026-11-01T00:00:00Z", body.RootElement.GetProperty("period_start").GetString());
        }

        var messages = ConsumeAll(Topic, 2);
        Assert.Equal(["acct-1", "acct-2"], messages.Select(m => m.Key).Order());
        Assert.Equal(state.Select(s => s.Id.ToString("D")).Order(), messages.Select(m => m.Body.GetProperty("id").GetString()!).Order());
        Assert.All(messages, m => Assert.Equal(m.Body.GetProperty("id").GetString(), m.HeaderId));
    }

    [Fact]
    public async Task A_crash_between_delivery_and_its_record_redelivers_the_same_alert_ids()
    {
        const string Topic = "alerts-crash";
        _kafka.CreateTopic(Topic, 1, 1);
        using var webhook = new RecordingWebhook();
        await using var db = await LedgerWithAlertsAsync(postgres, 2);
        var options = new AlertDispatcherOptions { BootstrapServers = _kafka.BootstrapServers, Topic = Topic, Webhook = webhook.Url };
        using (var crashing = new AlertDispatcher(db, options with { CrashBeforeMark = true }))
        {
            await Assert.ThrowsAsync<SimulatedCrashException>(() => crashing.DispatchOnceAsync(CancellationToken.None));
        }

        Assert.All(await StateAsync(db), s => Assert.False(s.Kafka || s.Webhook)); // delivered, but not recorded
        using (var restarted = new AlertDispatcher(db, options))
        {
            Assert.Equal(new DispatchResult(2, 2, 2, 0), await restarted.DispatchOnceAsync(CancellationToken.None));
        }

        var ids = (await StateAsync(db)).Select(s => s.Id.ToString("D")).Order().ToList();
        var posted = webhook.Requests.Select(r => r.Id!).ToList();
        Assert.Equal(4, posted.Count);
        Assert.Equal(ids.Concat(ids).Order(), posted.Order()); // each alert twice, with its one id
        var messages = ConsumeAll(Topic, 4);
        Assert.Equal(ids.Concat(ids).Order(), messages.Select(m => m.HeaderId!).Order());
        Assert.Equal(ids.Concat(ids).Order(), messages.Select(m => m.Body.GetProperty("id").GetString()!).Order());
    }

    [Fact]
    public async Task A_webhook_that_keeps_failing_leaves_the_alert_undelivered_with_the_error_and_backs_off()
    {
        using var webhook = new RecordingWebhook(503, 503, 503);
        await using var db = await LedgerWithAlertsAsync(postgres, 1);
        using var dispatcher = new AlertDispatcher(db, new AlertDispatcherOptions { Webhook = webhook.Url, RetryDelay = TimeSpan.FromMilliseconds(10) });
        Assert.Equal(new DispatchResult(1, 0, 0, 1), await dispatcher.DispatchOnceAsync(CancellationToken.None));
        var state = Assert.Single(await StateAsync(db));
        Assert.Equal((false, 3, "webhook: HTTP 503 Service Unavailable"), (state.Webhook, state.Attempts, state.Error));

        // Backing off (2^3 s): the next round does not touch it yet.
        Assert.Equal(default, await dispatcher.DispatchOnceAsync(CancellationToken.None));
        await using (var due = db.CreateCommand("UPDATE alerts SET next_attempt_at = now()"))
        {
            await due.ExecuteNonQueryAsync();
        }

        Assert.Equal(new DispatchResult(1, 0, 1, 0), await dispatcher.DispatchOnceAsync(CancellationToken.None));
        Assert.Equal(4, webhook.Requests.Count);
    }
}
