using System.Globalization;
using Metering.Analytics.ChDb;
using Metering.Analytics;
using Metering.Ledger.Migrations;
using Metering.Ledger.Outbox;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Analytics;

[Collection(PostgresCollection.Name)]
public sealed class AnalyticsExporterTests(PostgresFixture postgres)
{
    internal static async Task<(NpgsqlDataSource Db, string ConnectionString, ChDbTransport Transport, AnalyticsSchema Schema)> SetUpAsync(PostgresFixture postgres)
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        var transport = new ChDbTransport(ChDbShared.Session, ownsSession: false);
        return (NpgsqlDataSource.Create(cs), cs, transport, new AnalyticsSchema(ChDbShared.NewDatabaseName()));
    }

    /// <summary>(account, sku, period) -> "quantity|count|amount" from ClickHouse, read with FINAL.</summary>
    internal static async Task<Dictionary<string, string>> ClickHouseSumsAsync(IAnalyticsTransport transport, AnalyticsSchema schema, bool final = true)
    {
        var rows = await transport.QueryAsync(
            $"SELECT account, sku, toUnixTimestamp(period_start), toString(sum(quantity)), toString(sum(record_count)), toString(sum(amount)) FROM {schema.UsageWindows} {(final ? "FINAL" : "")} GROUP BY 1, 2, 3",
            [], default);
        return rows.ToDictionary(r => $"{r[0]}|{r[1]}|{r[2]}", r => $"{N(decimal.Parse(r[3]!, CultureInfo.InvariantCulture))}|{r[4]}|{N(decimal.Parse(r[5]!, CultureInfo.InvariantCulture))}");
    }

    internal static async Task<Dictionary<string, string>> LedgerSumsAsync(NpgsqlDataSource db)
    {
        await using var cmd = db.CreateCommand("SELECT account, sku, extract(epoch from period_start)::bigint, quantity, record_count, amount FROM billing_period_totals");
        await using var reader = await cmd.ExecuteReaderAsync();
        var sums = new Dictionary<string, string>();
        while (await reader.ReadAsync())
        {
            sums[$"{reader.GetString(0)}|{reader.GetString(1)}|{reader.GetInt64(2)}"] = $"{N(reader.GetDecimal(3))}|{reader.GetInt64(4)}|{N(reader.GetDecimal(5))}";
        }

        return sums;
    }

    /// <summary>A decimal's value without trailing zeros (PostgreSQL keeps the column's scale, ClickHouse trims it).</summary>
    internal static string N(decimal d) => d.ToString("G29", CultureInfo.InvariantCulture);

    private static Task<long> PendingAsync(NpgsqlDataSource db) => RatedWindowBlobOutbox.PendingRowsAsync(db, default);

    // rowOutbox: the rows an engine before migration 0021 left in rated_windows, which the exporter drains the same way.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Export_moves_every_outbox_row_once_and_sums_equal_the_ledger(bool rowOutbox)
    {
        var (db, _, transport, schema) = await SetUpAsync(postgres);
        await using var _ = db;
        // Blobs of 300 rows: a batch of 1,000 takes the 4 blobs that start within it (1,200 rows), then 4, then 1.
        await OutboxSeeder.SeedAsync(db, 2_500, seed: 1, rowOutbox: rowOutbox, rowsPerBlob: 300);
        var exporter = new AnalyticsExporter(db, transport, schema, batchSize: 1_000);

        var first = await exporter.ExportOnceAsync(default);
        Assert.Equal(2_500, first.Rows);
        Assert.Equal(3, first.Batches);
        Assert.Equal(0, await PendingAsync(db));

        var ledger = await LedgerSumsAsync(db);
        Assert.NotEmpty(ledger);
        Assert.Equal(ledger.OrderBy(k => k.Key, StringComparer.Ordinal), (await ClickHouseSumsAsync(transport, schema)).OrderBy(k => k.Key, StringComparer.Ordinal));

        var second = await exporter.ExportOnceAsync(default);
        Assert.Equal(0, second.Rows);
        var count = await transport.QueryAsync($"SELECT count() FROM {schema.UsageWindows}", [], default);
        Assert.Equal("2500", count[0][0]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Batch_resent_after_a_crash_between_insert_and_mark_is_not_counted_twice(bool rowOutbox)
    {
        var (db, _, transport, schema) = await SetUpAsync(postgres);
        await using var _ = db;
        await OutboxSeeder.SeedAsync(db, 500, seed: 2, rowOutbox: rowOutbox); // blobs of 100: a batch of 200 is 2 blobs
        var crashing = new AnalyticsExporter(db, transport, schema, batchSize: 200);
        await crashing.EnsureSchemaAsync(default);
        // Keep the copies visible: no background merge may collapse them, so only FINAL can make the answer exact.
        await transport.ExecuteAsync($"SYSTEM STOP MERGES {schema.UsageWindows}", default);
        var batches = 0;
        crashing.AfterInsertBeforeMark = (_, _) => ++batches == 2 ? throw new IOException("simulated crash after the ClickHouse insert") : Task.CompletedTask;
        await Assert.ThrowsAsync<IOException>(() => crashing.ExportOnceAsync(default));
        Assert.Equal(300, await PendingAsync(db)); // batch 1 marked, batch 2 in ClickHouse but not marked

        // More usage lands before the restart, so the re-sent batch is not even the same batch.
        await OutboxSeeder.SeedAsync(db, 150, seed: 3, rowOutbox: rowOutbox);
        var restarted = new AnalyticsExporter(db, transport, schema, batchSize: 170);
        var resumed = await restarted.ExportOnceAsync(default);
        Assert.Equal(450, resumed.Rows);
        Assert.Equal(0, await PendingAsync(db));

        var raw = await transport.QueryAsync($"SELECT count(), uniqExact(id) FROM {schema.UsageWindows}", [], default);
        Assert.Equal("850", raw[0][0]); // 650 rows + 200 sent twice: the replay really happened
        Assert.Equal("650", raw[0][1]);
        Assert.NotEqual(await LedgerSumsAsync(db), await ClickHouseSumsAsync(transport, schema, final: false));
        Assert.Equal((await LedgerSumsAsync(db)).OrderBy(k => k.Key, StringComparer.Ordinal), (await ClickHouseSumsAsync(transport, schema)).OrderBy(k => k.Key, StringComparer.Ordinal));

        // Once merges run the copies are gone for good, and the answer does not change.
        await transport.ExecuteAsync($"SYSTEM START MERGES {schema.UsageWindows}", default);
        await transport.ExecuteAsync($"OPTIMIZE TABLE {schema.UsageWindows} FINAL", default);
        var merged = await transport.QueryAsync($"SELECT count() FROM {schema.UsageWindows}", [], default);
        Assert.Equal("650", merged[0][0]);
        Assert.Equal((await LedgerSumsAsync(db)).OrderBy(k => k.Key, StringComparer.Ordinal), (await ClickHouseSumsAsync(transport, schema, final: false)).OrderBy(k => k.Key, StringComparer.Ordinal));
    }

    [Fact]
    public async Task Rows_left_in_the_row_outbox_by_an_upgrade_and_new_blobs_are_both_exported_once()
    {
        var (db, _, transport, schema) = await SetUpAsync(postgres);
        await using var _ = db;
        var old = await OutboxSeeder.SeedAsync(db, 700, seed: 6, rowOutbox: true);
        var blobs = await OutboxSeeder.SeedAsync(db, 900, seed: 7);
        Assert.True(old.Max(s => s.Row.Id) < blobs.Min(s => s.Row.Id)); // the two id ranges never meet

        var moved = await new AnalyticsExporter(db, transport, schema, batchSize: 400).ExportOnceAsync(default);
        Assert.Equal(1_600, moved.Rows);
        Assert.Equal(0, await PendingAsync(db));
        var raw = await transport.QueryAsync($"SELECT count(), uniqExact(id) FROM {schema.UsageWindows}", [], default);
        Assert.Equal("1600|1600", $"{raw[0][0]}|{raw[0][1]}");
        Assert.Equal((await LedgerSumsAsync(db)).OrderBy(k => k.Key, StringComparer.Ordinal), (await ClickHouseSumsAsync(transport, schema)).OrderBy(k => k.Key, StringComparer.Ordinal));
        Assert.Equal(0, (await new AnalyticsExporter(db, transport, schema).ExportOnceAsync(default)).Rows);
    }

    [Fact]
    public async Task Background_loop_exports_rows_as_they_arrive_and_stops_on_cancellation()
    {
        var (db, _, transport, schema) = await SetUpAsync(postgres);
        await using var owned = db;
        var exporter = new AnalyticsExporter(db, transport, schema, batchSize: 100);
        using var stop = new CancellationTokenSource();
        using var log = new StringWriter();
        var loop = exporter.RunAsync(TimeSpan.FromMilliseconds(50), stop.Token, TextWriter.Synchronized(log));
        await OutboxSeeder.SeedAsync(db, 120, seed: 4);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await PendingAsync(db) > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await OutboxSeeder.SeedAsync(db, 30, seed: 5);
        while (await PendingAsync(db) > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, await PendingAsync(db));
        Assert.Equal((await LedgerSumsAsync(db)).OrderBy(k => k.Key, StringComparer.Ordinal), (await ClickHouseSumsAsync(transport, schema)).OrderBy(k => k.Key, StringComparer.Ordinal));
        Assert.Contains("rows in", log.ToString(), StringComparison.Ordinal);
    }
}
