using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Metering.Cli.Arguments;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Cli.Commands;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Quotas;
using Metering.Ledger.Verification;
using Metering.Rating.PriceBooks;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Metering.Tests.Streaming;

namespace Metering.Tests.Alerts;

/// <summary>
/// Every number accepted from outside fits the column that stores it (LedgerDecimal: |x| &lt; 10^18, at most 9
/// fractional digits), is refused at the boundary with the range in the message, and a row that got in anyway (written
/// by SQL) never makes a flush, a listing or a removal fail.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class LedgerRangeTests(PostgresFixture postgres)
{
    /// <summary>29 digits: fits numeric(38,9) and decimal, but Npgsql cannot read it back as a decimal.</summary>
    private const string Unreadable = "12345678901234567890123456789";

    [Fact]
    public async Task A_threshold_outside_the_range_is_a_400_that_names_the_range_and_the_largest_one_inside_round_trips()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        foreach (var threshold in new[] { "1" + new string('0', 30), Unreadable, "1000000000000000000", "0.0000000001", "1.00000000000000000000000000001" })
        {
            using var refused = await admin.PostAsJsonAsync("/v1/accounts/acct-r/quotas", new { metric = "quantity", sku = "api.calls", threshold });
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            var body = await refused.Content.ReadAsStringAsync();
            Assert.Contains("10^18", body, StringComparison.Ordinal);
            Assert.Contains("9 fractional digits", body, StringComparison.Ordinal);
        }

        using var largest = await admin.PostAsJsonAsync("/v1/accounts/acct-r/quotas", new { metric = "quantity", sku = "api.calls", threshold = "999999999999999999.999999999" });
        Assert.Equal(HttpStatusCode.Created, largest.StatusCode);
        using var quota = JsonDocument.Parse(await largest.Content.ReadAsStringAsync());
        Assert.Equal("999999999999999999.999999999", quota.RootElement.GetProperty("threshold").GetString());
    }

    [Fact]
    public async Task Quota_set_refuses_a_threshold_outside_the_range_naming_it_and_the_store_refuses_it_too()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        var command = new QuotaSetCommand(new StringWriter());
        var refused = await Assert.ThrowsAsync<CliUsageException>(() => command.RunAsync(
            CliArguments.Parse(["--account", "a", "--sku", "s", "--metric", "quantity", "--threshold", "1" + new string('0', 30), "--pg", cs], _ => null), CancellationToken.None));
        Assert.Contains("10^18", refused.Message, StringComparison.Ordinal);

        await using var db = Npgsql.NpgsqlDataSource.Create(cs);
        var store = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => QuotaStore.SetAsync(db, "a", "s", QuotaMetric.Quantity, decimal.Parse(Unreadable, System.Globalization.CultureInfo.InvariantCulture), null, CancellationToken.None));
        Assert.Contains("10^18", store.Message, StringComparison.Ordinal);
        Assert.Empty(await QuotaStore.ListAsync(db, null, CancellationToken.None));
    }

    [Fact]
    public void Price_book_numbers_outside_the_range_are_errors_at_their_json_paths()
    {
        var json = """
            { "id": "huge", "currency": "USD",
              "versions": [ { "version": "v1", "effective_from": "2026-01-01T00:00:00Z",
                "prices": { "api.calls": { "model": "per_unit", "unit": "call", "unit_price": "1e20" },
                            "ok.calls": { "model": "per_unit", "unit": "call", "unit_price": "0.0000000004" } } } ],
              "quotas": [ { "account": "a", "sku": "api.calls", "metric": "quantity", "threshold": "10.0000000001" },
                          { "account": "a", "metric": "amount", "threshold": "12345678901234567890123456789" } ] }
            """;
        var errors = PriceBookLoader.Validate(Encoding.UTF8.GetBytes(json)).Errors.Select(e => e.ToString()).ToList();
        Assert.Contains(errors, e => e.StartsWith("$.versions[0].prices[\"api.calls\"].unit_price: must be less than 10^18", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("$.quotas[0].threshold: is stored in the quotas table: it must be less than 10^18", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("$.quotas[1].threshold: must be less than 10^18", StringComparison.Ordinal));
        Assert.Equal(3, errors.Count); // a price with 10 fractional digits is fine: its amounts are rounded
    }

    [Fact]
    public async Task A_quota_row_outside_the_range_written_by_SQL_is_skipped_flushes_commit_and_it_can_be_listed_and_removed()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var db = host.Db;
        long bad;
        await using (var insert = db.CreateCommand($"INSERT INTO quotas (account, sku, metric, threshold, source) VALUES ('acct-1', 'cdn.requests', 'quantity', {Unreadable}, 'api') RETURNING id"))
        {
            bad = (long)(await insert.ExecuteScalarAsync())!;
        }

        // A good quota next to it, low enough to be crossed: evaluation goes on around the bad row.
        await QuotaStore.SetAsync(db, "acct-1", "cdn.requests", QuotaMetric.Quantity, 1m, null, CancellationToken.None);

        using var kafka = new EmbeddedKafkaCluster(brokers: 1);
        var options = new StreamingOptions { BootstrapServers = kafka.BootstrapServers, Topic = "range-quota", DeadLetterTopic = "", FlushInterval = TimeSpan.FromMilliseconds(200) };
        kafka.CreateTopic(options.Topic, 2, 1);
        using var workload = new MemoryStream();
        var truth = new SyntheticWorkloadGenerator(new WorkloadOptions { Records = 3_000, Accounts = 20, DuplicateShare = 0.02, BadShare = 0.01 }).Generate(workload);
        workload.Position = 0;
        await WorkloadProducer.ProduceAsync(kafka.BootstrapServers, options.Topic, workload, null, CancellationToken.None);
        Assert.Contains(truth.Totals, t => t.Account == "acct-1" && t.Sku == "cdn.requests"); // precondition: the quotas' key has usage

        var engine = new StreamingEngine(options, db, null);
        await EngineRuns.RunUntilCommittedAsync(engine, db, options, TopicLog.Messages(kafka.BootstrapServers, options.Topic), timeoutSeconds: 60);
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(TopicLog.Expected(truth, kafka.BootstrapServers, options.Topic)), CancellationToken.None));
        await using (var alerts = db.CreateCommand("SELECT count(*) FILTER (WHERE threshold = 1), count(DISTINCT period_start) FILTER (WHERE threshold = 1), count(*) FILTER (WHERE quota_id = $1) FROM alerts"))
        {
            alerts.Parameters.Add(new() { Value = bad });
            await using var r = await alerts.ExecuteReaderAsync();
            await r.ReadAsync();
            Assert.True(r.GetInt64(0) >= 1, "the good quota next to the bad row was evaluated and crossed");
            Assert.Equal(r.GetInt64(1), r.GetInt64(0)); // one alert per period
            Assert.Equal(0, r.GetInt64(2));
        }

        using var admin = host.Client(ApiTestHost.Token("admin"));
        using var listed = await admin.GetAsync("/v1/accounts/acct-1/quotas");
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        using var list = JsonDocument.Parse(await listed.Content.ReadAsStringAsync());
        Assert.Contains(list.RootElement.EnumerateArray(), q => q.GetProperty("id").GetInt64() == bad && q.GetProperty("threshold").GetString() == Unreadable + ".000000000");
        using (var listOutput = new StringWriter())
        {
            var args = Metering.Cli.Arguments.CliArguments.Parse(["--account", "acct-1", "--pg", db.ConnectionString], _ => null);
            Assert.Equal(0, await new Metering.Cli.Commands.QuotaListCommand(listOutput).RunAsync(args, CancellationToken.None));
            Assert.Contains($"acct-1: threshold {Unreadable}.000000000 is outside the ledger range and skipped by every evaluation; remove it (metering quota remove --id {bad})", listOutput.ToString(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/accounts/acct-1/quotas/{bad}")).StatusCode);
        Assert.DoesNotContain(await QuotaStore.ListAsync(db, "acct-1", CancellationToken.None), q => q.Id == bad);
    }
}
