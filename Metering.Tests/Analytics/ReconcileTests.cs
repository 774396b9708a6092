using Metering.Analytics;
using Metering.Cli.Arguments;
using Metering.Cli;
using Metering.Ledger.Outbox;
using Metering.Tests.Storage;

namespace Metering.Tests.Analytics;

[Collection(PostgresCollection.Name)]
public sealed class ReconcileTests(PostgresFixture postgres)
{
    private static Task<int> CliAsync(string cs, AnalyticsSchema schema, params string[] args)
    {
        string[] common = ["--pg", cs, "--clickhouse-dir", ChDbShared.Directory, "--clickhouse-database", schema.Database];
        return Program.RunAsync([.. args, .. common], TextWriter.Null, TextWriter.Null, CancellationToken.None);
    }

    [Fact]
    public async Task Reconcile_is_clean_after_export_and_exits_1_on_a_ledger_drift()
    {
        var (db, cs, transport, schema) = await AnalyticsExporterTests.SetUpAsync(postgres);
        await using var owned = db;
        _ = ChDbShared.Session;
        await OutboxSeeder.SeedAsync(db, 800, seed: 11);

        Assert.Equal(0, await CliAsync(cs, schema, "export"));
        Assert.Equal(0, await CliAsync(cs, schema, "reconcile", "--period", "2026-11"));
        Assert.Equal(0, await CliAsync(cs, schema, "reconcile", "--period", "2026-10-01", "--no-export"));

        await using (var cmd = db.CreateCommand("UPDATE billing_period_totals SET amount = amount + 0.000000001 WHERE (account, sku) = (SELECT account, sku FROM billing_period_totals WHERE period_start = '2026-11-01Z' ORDER BY account, sku LIMIT 1) AND period_start = '2026-11-01Z'"))
        {
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }

        Assert.Equal(1, await CliAsync(cs, schema, "reconcile", "--period", "2026-11"));
        Assert.Equal(0, await CliAsync(cs, schema, "reconcile", "--period", "2026-10")); // the other period is untouched

        var report = await new AnalyticsReconciler(db, transport, schema).ReconcileAsync(OutboxSeeder.November, default);
        var drift = Assert.Single(report.Drifts);
        Assert.Equal("amount", drift.Field);
        Assert.Equal(0.000000001m, drift.Ledger - drift.Analytics);
    }

    [Fact]
    public async Task Reconcile_finds_an_extra_row_in_clickhouse_and_a_total_missing_there()
    {
        var (db, _, transport, schema) = await AnalyticsExporterTests.SetUpAsync(postgres);
        await using var _ = db;
        await OutboxSeeder.SeedAsync(db, 300, seed: 12, accounts: ["a1", "a2"]);
        await new AnalyticsExporter(db, transport, schema).ExportOnceAsync(default);
        var reconciler = new AnalyticsReconciler(db, transport, schema);
        Assert.Empty((await reconciler.ReconcileAsync(OutboxSeeder.November, default)).Drifts);

        // A row only ClickHouse has (e.g. written by hand), with an id the outbox has not reached: in blob 1,000's range.
        var extra = ArrowInsertTests.Row(RatedWindowBlobOutbox.FirstRowId(1_000), account: "ghost", sku: "api.calls") with { PeriodStart = OutboxSeeder.November };
        await transport.InsertArrowAsync(schema.InsertHead, RatedWindowArrow.Encode([extra]), default);
        await using (var cmd = db.CreateCommand("SELECT setval('rated_window_blobs_id_seq', 2000)"))
        {
            await cmd.ExecuteScalarAsync();
        }

        // A total only PostgreSQL has.
        await using (var cmd = db.CreateCommand("INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash) VALUES ('lost', 'api.calls', '2026-11-01Z', '2026-12-01Z', 5, 1, 2, 'USD', 'list', 'v1', 'h')"))
        {
            await cmd.ExecuteNonQueryAsync();
        }

        // Make max(id) in PostgreSQL reach the ghost's id so the reconciler's snapshot bound includes it.
        await OutboxSeeder.SeedAsync(db, 1, seed: 13, accounts: ["a1"]);
        await new AnalyticsExporter(db, transport, schema).ExportOnceAsync(default);

        var drifts = (await reconciler.ReconcileAsync(OutboxSeeder.November, default)).Drifts;
        Assert.Contains(drifts, d => d is { Account: "ghost", Field: "row", Ledger: null } && d.Analytics == extra.Quantity);
        Assert.Contains(drifts, d => d is { Account: "lost", Field: "row", Analytics: null } && d.Ledger == 5m);
        Assert.Equal(2, drifts.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Outbox_rows_in_flight_count_once_whether_or_not_clickhouse_already_has_them(bool rowOutbox)
    {
        var (db, _, transport, schema) = await AnalyticsExporterTests.SetUpAsync(postgres);
        await using var _ = db;
        await OutboxSeeder.SeedAsync(db, 400, seed: 14, rowOutbox: rowOutbox, rowsPerBlob: 50); // a batch of 150: 3 blobs
        var exporter = new AnalyticsExporter(db, transport, schema, batchSize: 150);
        var batches = 0;
        exporter.AfterInsertBeforeMark = (_, _) => ++batches == 2 ? throw new IOException("crash") : Task.CompletedTask;
        await Assert.ThrowsAsync<IOException>(() => exporter.ExportOnceAsync(default));
        // 150 marked, 150 in ClickHouse but unmarked, 100 only in PostgreSQL.
        var reconciler = new AnalyticsReconciler(db, transport, schema);
        foreach (var period in new[] { OutboxSeeder.October, OutboxSeeder.November })
        {
            var report = await reconciler.ReconcileAsync(period, default);
            Assert.Empty(report.Drifts);
            Assert.True(report.InFlight > 0);
        }
    }

    [Theory]
    [InlineData("2026-11", "2026-11-01")]
    [InlineData("2026-02-15", "2026-02-15")]
    public void Period_accepts_a_month_or_a_day(string input, string start) =>
        Assert.Equal(DateTimeOffset.Parse(start + "T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture), CliArguments.Parse(["--period", input]).RequiredPeriodStart("period"));

    [Fact]
    public void Period_rejects_anything_else() =>
        Assert.Throws<CliUsageException>(() => CliArguments.Parse(["--period", "11/2026"]).RequiredPeriodStart("period"));
}
