using System.Text;
using System.Text.Json;
using Metering.DevKit.Kafka;
using Metering.Web.HttpIngest;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Tests.Storage;
using Metering.Tests.Streaming;
using Npgsql;

namespace Metering.Tests.Ingest;

/// <summary>One tenant's SKU flood is refused at the edge with its own receipts and never reaches another tenant.</summary>
[Collection(PostgresCollection.Name)]
public sealed class EdgeCardinalityTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    private static string Record(string id, string account, string sku) =>
        $$"""{"id":"{{id}}","account":"{{account}}","sku":"{{sku}}","quantity":"1","time":"{{DateTime.UtcNow.AddMinutes(-1):yyyy-MM-dd'T'HH:mm:ss'Z'}}"}""";

    [Fact]
    public async Task A_key_posting_110000_distinct_skus_gets_receipts_past_its_limit_and_another_tenants_new_sku_is_booked()
    {
        const string topic = "flood";
        _kafka.CreateTopic(topic, 2, 1);
        var keys = new ApiKeyStore([
            new ApiKey("flooder", Convert.FromHexString(ApiKeyStore.Hash("flooder-key")), ["acct-flood"]),
            new ApiKey("other", Convert.FromHexString(ApiKeyStore.Hash("other-key")), ["acct-other"]),
        ]);
        using var service = new HttpIngestService(new HttpIngestOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic }, null, keys);
        await using var host = await IngestTestHost.StartAsync(service);
        using var flooder = host.ApiKey("flooder-key");
        var accepted = 0;
        var limited = 0;
        for (var request = 0; request < 11; request++)
        {
            var body = new StringBuilder();
            for (var i = 0; i < 10_000; i++)
            {
                var n = (request * 10_000) + i;
                body.Append(Record("f-" + n, "acct-flood", "made.up." + n)).Append('\n');
            }

            using var response = await flooder.PostAsync("/v1/events", IngestTestHost.Ndjson(body.ToString()));
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            accepted += doc.RootElement.GetProperty("accepted").GetInt32();
            foreach (var receipt in doc.RootElement.GetProperty("receipts").EnumerateArray())
            {
                if (receipt.TryGetProperty("reason", out var reason) && reason.GetString() == "edge_cardinality_limit")
                {
                    limited++;
                    Assert.Contains("acct-flood", receipt.GetProperty("detail").GetString(), StringComparison.Ordinal);
                }
            }
        }

        Assert.Equal(service.Options.MaxSkusPerAccount, accepted);
        Assert.Equal(110_000 - accepted, limited);

        // A SKU the flooder already used today still passes; another tenant's new SKU is accepted.
        using (var again = await flooder.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("f-again", "acct-flood", "made.up.7"))))
        {
            Assert.Equal(1, JsonDocument.Parse(await again.Content.ReadAsStringAsync()).RootElement.GetProperty("accepted").GetInt32());
        }

        using var other = host.ApiKey("other-key");
        using (var response = await other.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("o-1", "acct-other", "brand.new.sku"))))
        {
            Assert.Equal(1, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("accepted").GetInt32());
        }

        // The engine books every accepted record, the other tenant's included, and dead-letters nothing.
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        await using var db = NpgsqlDataSource.Create(connectionString);
        var options = new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, FlushInterval = TimeSpan.FromMilliseconds(200), DeadLetterTopic = "" };
        await EngineRuns.RunUntilCommittedAsync(new StreamingEngine(options, db, null), db, options, accepted + 2);
        await using var cmd = db.CreateCommand("SELECT (SELECT count(*) FROM dead_letters), (SELECT quantity FROM billing_period_totals WHERE account = 'acct-other' AND sku = 'brand.new.sku')");
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(0L, reader.GetInt64(0));
        Assert.Equal(1m, reader.GetDecimal(1));
    }

}
