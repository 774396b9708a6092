using System.Globalization;
using System.Text;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Alerts;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Quotas;
using Metering.Ledger.Totals;
using Metering.Ledger.Verification;
using Metering.Rating.PriceBooks;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Alerts;

/// <summary>Quota crossings detected in the flush transaction: once per quota per period, also across a crash and replay.</summary>
[Collection(PostgresCollection.Name)]
public sealed class QuotaAlertTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);
    private readonly string _time = DateTime.UtcNow.AddMinutes(-5).ToString("yyyy-MM-dd'T'HH:mm:00'Z'", CultureInfo.InvariantCulture);
    private int _nextId;

    public void Dispose() => _kafka.Dispose();

    /// <summary>api.calls 0.01 USD per call, storage.gb 2.00 USD per GB.</summary>
    private static PriceCatalog Prices() => new(PriceBookLoader.Load("""
        {
          "id": "alerts-test", "currency": "USD", "rounding": "half_up",
          "versions": [ { "version": "v1", "effective_from": "2026-01-01T00:00:00Z",
            "prices": { "api.calls": { "model": "per_unit", "unit": "call", "unit_price": "0.01" },
                        "storage.gb": { "model": "per_unit", "unit": "GB", "unit_price": "2.00" } } } ]
        }
        """u8, "alerts-test"), []);

    private void Append(StringBuilder text, string account, string sku, long quantity) =>
        text.Append("{\"id\":\"q-").Append(++_nextId).Append("\",\"account\":\"").Append(account).Append("\",\"sku\":\"").Append(sku)
            .Append("\",\"quantity\":\"").Append(quantity).Append("\",\"time\":\"").Append(_time).Append("\"}\n");

    private async Task<(NpgsqlDataSource Db, StreamingOptions Options)> SetUpAsync(string topic)
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        _kafka.CreateTopic(topic, 1, 1);
        return (NpgsqlDataSource.Create(cs), new StreamingOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, FlushInterval = TimeSpan.FromMilliseconds(200) });
    }

    private static Task RunUntilCommittedAsync(NpgsqlDataSource db, StreamingOptions options, long expectedRead) =>
        Streaming.EngineRuns.RunUntilCommittedAsync(new StreamingEngine(options, db, Prices()), db, options, expectedRead, timeoutSeconds: 60);

    private async Task ProduceAsync(string topic, StringBuilder records) =>
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, topic, new MemoryStream(Encoding.UTF8.GetBytes(records.ToString())), null, CancellationToken.None);

    private static async Task<List<(string Account, string? Sku, string Metric, decimal Threshold, decimal Before, decimal Value, string? Currency)>> AlertsAsync(NpgsqlDataSource db)
    {
        await using var cmd = db.CreateCommand("SELECT account, sku, metric, threshold, value_before, value_at_crossing, currency FROM alerts ORDER BY crossed_at, id");
        await using var r = await cmd.ExecuteReaderAsync();
        var list = new List<(string, string?, string, decimal, decimal, decimal, string?)>();
        while (await r.ReadAsync())
        {
            list.Add((r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), r.GetString(2), r.GetDecimal(3), r.GetDecimal(4), r.GetDecimal(5), r.IsDBNull(6) ? null : r.GetString(6)));
        }

        return list;
    }

    private static async Task<decimal> QuantityAsync(NpgsqlDataSource db, string account, string sku)
    {
        await using var cmd = db.CreateCommand("SELECT coalesce(sum(quantity), 0) FROM billing_period_totals WHERE account = $1 AND sku = $2");
        cmd.Parameters.Add(new() { Value = account });
        cmd.Parameters.Add(new() { Value = sku });
        return (decimal)(await cmd.ExecuteScalarAsync())!;
    }

    [Theory]
    [InlineData("quota-crash-early", 300)]   // crossed in the first flushes, committed before the crash: the replay must not fire again
    [InlineData("quota-crash-late", 2_000)]  // crossed only after the crash, in the replay: fires there, once
    [InlineData("quota-crash-mid", 800)]     // crossed in the last flush before the crash, which may or may not commit as the engine dies
    public async Task A_quantity_quota_crossed_mid_stream_fires_exactly_one_alert_across_a_crash_and_replay(string topic, int threshold)
    {
        var (db, options) = await SetUpAsync(topic);
        await using (db)
        {
            await QuotaStore.SetAsync(db, "acct-q", "api.calls", QuotaMetric.Quantity, threshold, null, CancellationToken.None);
            await QuotaStore.SetAsync(db, "acct-q", "storage.gb", QuotaMetric.Quantity, 10_000, null, CancellationToken.None); // never reached
            var records = new StringBuilder();
            for (var i = 0; i < 4_000; i++)
            {
                if (i % 4 == 3)
                {
                    Append(records, "acct-other", "api.calls", 1); // same SKU, no quota
                }
                else
                {
                    Append(records, "acct-q", i % 8 == 1 ? "storage.gb" : "api.calls", 1);
                }
            }

            await ProduceAsync(topic, records);

            // The first engine dies (no final flush, no clean leave) after 1,600 records, with flushes every 500.
            var first = new StreamingEngine(options with { MaxRecordsPerFlush = 500, CrashAfterRecords = 1_600 }, db, Prices());
            await first.RunAsync(CancellationToken.None);
            Assert.Equal(1_600, first.Read);
            await Task.Delay(500); // a flush still in flight when it "died" settles (commits or not) before the replay

            await RunUntilCommittedAsync(db, options with { MaxRecordsPerFlush = 500 }, 4_000);
            Assert.Equal(2_500m, await QuantityAsync(db, "acct-q", "api.calls"));

            var alert = Assert.Single(await AlertsAsync(db));
            Assert.Equal(("acct-q", "api.calls", "quantity", (decimal)threshold, (string?)null), (alert.Account, alert.Sku, alert.Metric, alert.Threshold, alert.Currency));
            Assert.True(alert.Before < threshold && threshold <= alert.Value, $"crossing {alert.Before} -> {alert.Value} over {threshold}");
            Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, null, CancellationToken.None));
        }
    }

    [Fact]
    public async Task An_amount_quota_sums_all_skus_of_the_account_in_its_currency_and_fires_once_per_period()
    {
        const string Topic = "quota-amount";
        var (db, options) = await SetUpAsync(Topic);
        await using (db)
        {
            await QuotaStore.SetAsync(db, "acct-a", null, QuotaMetric.Amount, 100m, "USD", CancellationToken.None);
            await QuotaStore.SetAsync(db, "acct-a", null, QuotaMetric.Amount, 1_000m, "USD", CancellationToken.None); // never reached
            await QuotaStore.SetAsync(db, "acct-a", null, QuotaMetric.Amount, 50m, "EUR", CancellationToken.None);   // other currency
            await QuotaStore.SetAsync(db, "acct-a", "storage.gb", QuotaMetric.Quantity, 100m, null, CancellationToken.None); // 60 GB at most

            // 30.00 of calls + 40.00 of storage = 70.00: below 100 USD. acct-b spends 200.00 but has no quota.
            var below = new StringBuilder();
            Append(below, "acct-a", "api.calls", 3_000);
            Append(below, "acct-a", "storage.gb", 20);
            Append(below, "acct-b", "storage.gb", 100);
            await ProduceAsync(Topic, below);
            await RunUntilCommittedAsync(db, options, 3);
            Assert.Empty(await AlertsAsync(db));

            // 20 GB more: 110.00, across 100 USD (value_before counts the calls total this flush did not touch).
            var across = new StringBuilder();
            Append(across, "acct-a", "storage.gb", 20);
            await ProduceAsync(Topic, across);
            await RunUntilCommittedAsync(db, options, 4);

            // 20 GB more: 150.00, still above: no second alert in the period.
            var above = new StringBuilder();
            Append(above, "acct-a", "storage.gb", 20);
            await ProduceAsync(Topic, above);
            await RunUntilCommittedAsync(db, options, 5);

            var alert = Assert.Single(await AlertsAsync(db));
            Assert.Equal(("acct-a", (string?)null, "amount", 100m, 70m, 110m, (string?)"USD"), alert);

            // And out to a webhook, as the receiver sees it.
            using var webhook = new RecordingWebhook();
            using (var dispatcher = new AlertDispatcher(db, new AlertDispatcherOptions { Webhook = webhook.Url }))
            {
                Assert.Equal(new DispatchResult(1, 0, 1, 0), await dispatcher.DispatchOnceAsync(CancellationToken.None));
            }

            var request = Assert.Single(webhook.Requests);
            using var body = System.Text.Json.JsonDocument.Parse(request.Body);
            var json = body.RootElement;
            Assert.Equal(request.Id, json.GetProperty("id").GetString());
            Assert.Equal(("acct-a", "amount", "100", "70", "110", "USD"), (json.GetProperty("account").GetString(), json.GetProperty("metric").GetString(),
                json.GetProperty("threshold").GetString(), json.GetProperty("value_before").GetString(), json.GetProperty("value").GetString(), json.GetProperty("currency").GetString()));
            Assert.Equal(System.Text.Json.JsonValueKind.Null, json.GetProperty("sku").ValueKind);
        }
    }

    [Fact]
    public async Task Evaluating_the_same_changes_twice_records_one_alert()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        await QuotaStore.SetAsync(db, "acct-x", "api.calls", QuotaMetric.Quantity, 10m, null, CancellationToken.None);
        var period = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        var change = new TotalChange("acct-x", "api.calls", period, period.AddMonths(1), "USD", 5m, 15m, 5, 15, 0.05m, 0.15m);
        for (var i = 0; i < 2; i++)
        {
            await using var connection = await db.OpenConnectionAsync();
            await using var tx = await connection.BeginTransactionAsync();
            Assert.Equal(i == 0 ? 1 : 0, await QuotaEvaluator.EvaluateAsync(connection, tx, [change], CancellationToken.None));
            await tx.CommitAsync();
        }

        await using var cmd = db.CreateCommand("SELECT alert_key, value_before, value_at_crossing FROM alerts");
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        Assert.EndsWith(":2026-11-01T00:00:00Z", r.GetString(0), StringComparison.Ordinal);
        Assert.Equal((5m, 15m), (r.GetDecimal(1), r.GetDecimal(2)));
        Assert.False(await r.ReadAsync());
    }

    [Fact]
    public async Task Changes_of_accounts_without_quotas_or_below_the_threshold_record_nothing()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        var period = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        await using var connection = await db.OpenConnectionAsync();
        await using (var tx = await connection.BeginTransactionAsync())
        {
            // No quotas at all: nothing is even queried beyond the cached account list.
            Assert.Equal(0, await QuotaEvaluator.EvaluateAsync(connection, tx, [new TotalChange("acct-y", "api.calls", period, period.AddMonths(1), "USD", 0m, 1e9m, 0, 1, 0m, 1e7m)], CancellationToken.None));
            await tx.CommitAsync();
        }

        await QuotaStore.SetAsync(db, "acct-y", "api.calls", QuotaMetric.Quantity, 100m, null, CancellationToken.None);
        await using (var tx = await connection.BeginTransactionAsync())
        {
            Assert.Equal(0, await QuotaEvaluator.EvaluateAsync(connection, tx, [
                new TotalChange("acct-y", "api.calls", period, period.AddMonths(1), "USD", 10m, 99.999999999m, 1, 2, 0m, 0m), // just below
                new TotalChange("acct-y", "api.calls", period, period.AddMonths(1), "USD", 100m, 500m, 2, 3, 0m, 0m),          // already above
                new TotalChange("acct-z", "api.calls", period, period.AddMonths(1), "USD", 0m, 500m, 0, 1, 0m, 0m),            // no quota
            ], CancellationToken.None));
            Assert.Equal(1, await QuotaEvaluator.EvaluateAsync(connection, tx, [
                new TotalChange("acct-y", "api.calls", period, period.AddMonths(1), "USD", 99m, 100m, 1, 2, 0m, 0m), // on the threshold counts
            ], CancellationToken.None));
            await tx.CommitAsync();
        }
    }
    [Fact]
    public async Task Concurrent_flushes_of_one_account_are_evaluated_one_after_the_other_so_an_amount_crossing_between_them_is_not_missed()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        await QuotaStore.SetAsync(db, "acct-c", null, QuotaMetric.Amount, 115m, "USD", CancellationToken.None);
        var period = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        async Task SetTotalAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string sku, decimal amount)
        {
            await using var cmd = new NpgsqlCommand("""
                INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash)
                VALUES ('acct-c', $1, $2, $3, 1, 1, $4, 'USD', 'b', 'v', 'h')
                ON CONFLICT (account, sku, period_start, dimension_group, price_from) DO UPDATE SET amount = EXCLUDED.amount
                """, connection, tx);
            cmd.Parameters.Add(new() { Value = sku });
            cmd.Parameters.Add(new() { Value = period.UtcDateTime });
            cmd.Parameters.Add(new() { Value = period.AddMonths(1).UtcDateTime });
            cmd.Parameters.Add(new() { Value = amount });
            await cmd.ExecuteNonQueryAsync();
        }

        TotalChange Change(string sku, decimal before, decimal after) => new("acct-c", sku, period, period.AddMonths(1), "USD", 1m, 1m, 1, 1, before, after);
        await using (var setup = await db.OpenConnectionAsync())
        {
            await SetTotalAsync(setup, null, "api.calls", 70m);
        }

        // Flush 1 (api.calls 70 -> 90) and flush 2 (storage.gb 0 -> 30) of two engine instances, interleaved. Neither
        // alone reaches 115; together they do (120). Without the per-account lock flush 2 would sum 70 + 30 = 100.
        await using var c1 = await db.OpenConnectionAsync();
        await using var tx1 = await c1.BeginTransactionAsync();
        await SetTotalAsync(c1, tx1, "api.calls", 90m);
        Assert.Equal(0, await QuotaEvaluator.EvaluateAsync(c1, tx1, [Change("api.calls", 70m, 90m)], CancellationToken.None));

        await using var c2 = await db.OpenConnectionAsync();
        await using var tx2 = await c2.BeginTransactionAsync();
        await SetTotalAsync(c2, tx2, "storage.gb", 30m);
        var second = QuotaEvaluator.EvaluateAsync(c2, tx2, [Change("storage.gb", 0m, 30m)], CancellationToken.None);
        await Task.Delay(300);
        Assert.False(second.IsCompleted, "flush 2's evaluation waits for flush 1's transaction");
        await tx1.CommitAsync();
        Assert.Equal(1, await second.WaitAsync(TimeSpan.FromSeconds(10)));
        await tx2.CommitAsync();

        await using var cmd = db.CreateCommand("SELECT value_before, value_at_crossing FROM alerts");
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        Assert.Equal((90m, 120m), (r.GetDecimal(0), r.GetDecimal(1)));
    }
    [Fact]
    public async Task With_more_quotas_than_the_cache_holds_every_change_is_checked_in_sql()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        await QuotaStore.SetAsync(db, "acct-u", "api.calls", QuotaMetric.Quantity, 10m, null, CancellationToken.None);
        await QuotaStore.SetAsync(db, "acct-u", null, QuotaMetric.Amount, 1m, "USD", CancellationToken.None);
        await QuotaStore.SetAsync(db, "acct-v", "api.calls", QuotaMetric.Quantity, 10m, null, CancellationToken.None);
        var period = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        await using (var totals = db.CreateCommand("""
            INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash)
            VALUES ('acct-u', 'api.calls', '2026-11-01', '2026-12-01', 20, 2, 2, 'USD', 'b', 'v', 'h')
            """))
        {
            await totals.ExecuteNonQueryAsync();
        }

        QuotaEvaluator.CacheLimit = 1;
        QuotaEvaluator.Invalidate();
        try
        {
            await using var connection = await db.OpenConnectionAsync();
            await using var tx = await connection.BeginTransactionAsync();
            Assert.Equal(2, await QuotaEvaluator.EvaluateAsync(connection, tx, [
                new TotalChange("acct-u", "api.calls", period, period.AddMonths(1), "USD", 5m, 20m, 1, 2, 0.5m, 2m),  // both quotas
                new TotalChange("acct-v", "api.calls", period, period.AddMonths(1), "USD", 1m, 2m, 1, 2, 0m, 0m),     // below
                new TotalChange("acct-w", "api.calls", period, period.AddMonths(1), "USD", 0m, 50m, 0, 1, 0m, 5m),    // no quota
            ], CancellationToken.None));
            await tx.CommitAsync();
        }
        finally
        {
            QuotaEvaluator.CacheLimit = QuotaEvaluator.MaxCachedQuotas;
            QuotaEvaluator.Invalidate();
        }
    }
}
