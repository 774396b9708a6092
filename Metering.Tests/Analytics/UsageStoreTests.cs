using Metering.Analytics.ChDb;
using Metering.Analytics;
using Metering.Tests.Storage;

namespace Metering.Tests.Analytics;

[Collection(PostgresCollection.Name)]
public sealed class UsageStoreTests(PostgresFixture postgres)
{
    /// <summary>The reference: plain LINQ over the seeded rows.</summary>
    private static List<string> Expected(IEnumerable<OutboxSeeder.Seeded> rows, UsageQuery q)
    {
        static DateTimeOffset Bucket(DateTimeOffset t, UsageGranularity g) => g switch
        {
            UsageGranularity.Minute => new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, TimeSpan.Zero),
            UsageGranularity.Hour => new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, 0, 0, TimeSpan.Zero),
            _ => new DateTimeOffset(t.Year, t.Month, t.Day, 0, 0, 0, TimeSpan.Zero),
        };

        return rows
            .Where(s => s.Row.Account == q.Account && (q.Sku is null || s.Row.Sku == q.Sku) && s.Row.WindowStart >= q.From && s.Row.WindowStart < q.To)
            .GroupBy(s => (Bucket(s.Row.WindowStart, q.Granularity), s.Row.Sku, string.Join(",", q.GroupBy.Select(k => k + "=" + s.Dims.GetValueOrDefault(k, "")))))
            .Select(g => Format(g.Key.Item1, g.Key.Sku, g.Key.Item3, g.Sum(s => s.Row.Quantity), g.Sum(s => s.Row.RecordCount), g.Sum(s => s.Row.Amount)))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    private static string Format(DateTimeOffset bucket, string sku, string dims, decimal quantity, long count, decimal amount) =>
        $"{bucket:O} {sku} [{dims}] {AnalyticsExporterTests.N(quantity)} {count} {AnalyticsExporterTests.N(amount)}";

    private static List<string> Actual(IReadOnlyList<UsagePoint> points, UsageQuery q) =>
        points.Select(p => Format(p.BucketStart, p.Sku, string.Join(",", q.GroupBy.Select(k => k + "=" + p.Dimensions[k])), p.Quantity, p.RecordCount, p.Amount)).ToList();

    [Fact]
    public async Task Usage_buckets_by_minute_hour_and_day_with_group_by_equal_a_plain_reference()
    {
        var (db, _, transport, schema) = await AnalyticsExporterTests.SetUpAsync(postgres);
        await using var _ = db;
        var seeded = await OutboxSeeder.SeedAsync(db, 3_000, seed: 21);
        var exporter = new AnalyticsExporter(db, transport, schema, batchSize: 700);
        exporter.AfterInsertBeforeMark = (ids, _) => ids[0] == 1 ? throw new IOException("crash once") : Task.CompletedTask;
        await Assert.ThrowsAsync<IOException>(() => exporter.ExportOnceAsync(default));
        exporter.AfterInsertBeforeMark = null;
        await exporter.ExportOnceAsync(default); // the first batch went in twice
        var store = new ClickHouseUsageStore(transport, schema);
        Assert.True(await store.PingAsync(default));

        var account = "o'brien \\ \"quoted\"\tacct"; // quotes, backslash and tab: bound, never spliced into SQL
        UsageQuery[] queries =
        [
            new(account, null, OutboxSeeder.November.AddHours(-5), OutboxSeeder.November.AddHours(7), UsageGranularity.Minute, ["region"]),
            new("acct-1", "api.calls", OutboxSeeder.November.AddDays(-2), OutboxSeeder.November.AddDays(2), UsageGranularity.Hour, ["region", "tier"]),
            new("acct-2", null, OutboxSeeder.November.AddDays(-3), OutboxSeeder.November.AddDays(3), UsageGranularity.Day, []),
            new("acct-3", "storage.gb", OutboxSeeder.November.AddDays(-3), OutboxSeeder.November.AddDays(3), UsageGranularity.Day, ["tier"]),
        ];
        foreach (var q in queries)
        {
            var expected = Expected(seeded, q);
            Assert.NotEmpty(expected);
            var points = await store.QueryUsageAsync(q, default);
            // the store's order is bucket, sku, dimensions: check it, then compare as sets with the reference
            Assert.Equal(points.OrderBy(p => p.BucketStart).ThenBy(p => p.Sku, StringComparer.Ordinal)
                .ThenBy(p => string.Join("\u0001", q.GroupBy.Select(k => p.Dimensions[k])), StringComparer.Ordinal), points);
            Assert.Equal(expected, Actual(points, q).Order(StringComparer.Ordinal).ToList());
            Assert.All(points, p => Assert.Equal("USD", p.Currency));
        }

        Assert.Empty(await store.QueryUsageAsync(new("nobody' OR 1=1 --", null, OutboxSeeder.October, OutboxSeeder.November.AddDays(5), UsageGranularity.Day, []), default));
    }

    [Fact]
    public async Task Invalid_queries_are_refused_with_a_reason()
    {
        using var transport = new ChDbTransport(ChDbShared.Session, ownsSession: false);
        var store = new ClickHouseUsageStore(transport, new AnalyticsSchema(ChDbShared.NewDatabaseName()));
        var t = OutboxSeeder.November;
        await Assert.ThrowsAsync<ArgumentException>(() => store.QueryUsageAsync(new("a", null, t, t, UsageGranularity.Hour, []), default));
        await Assert.ThrowsAsync<ArgumentException>(() => store.QueryUsageAsync(new("a", null, t, t.AddDays(30), UsageGranularity.Minute, []), default));
        await Assert.ThrowsAsync<ArgumentException>(() => store.QueryUsageAsync(new("a", null, t, t.AddDays(1), UsageGranularity.Hour, ["k", "k"]), default));
        Assert.False(await store.PingAsync(default)); // no table yet
    }

    [Fact]
    public async Task Usage_command_answers_and_refuses_bad_options_with_exit_code_2()
    {
        var (db, cs, transport, schema) = await AnalyticsExporterTests.SetUpAsync(postgres);
        await using var owned = db;
        await OutboxSeeder.SeedAsync(db, 50, seed: 22);
        await new AnalyticsExporter(db, transport, schema).ExportOnceAsync(default);
        string[] common = ["--clickhouse-dir", ChDbShared.Directory, "--clickhouse-database", schema.Database, "--account", "acct-1", "--from", "2026-10-29T00:00:00Z"];
        Assert.Equal(0, await Metering.Cli.Program.RunAsync(["usage", .. common, "--to", "2026-11-04T00:00:00Z", "--granularity", "day", "--group-by", "region"], TextWriter.Null, TextWriter.Null, default));
        Assert.Equal(2, await Metering.Cli.Program.RunAsync(["usage", .. common, "--to", "2026-11-04T00:00:00Z", "--granularity", "week"], TextWriter.Null, TextWriter.Null, default));
        Assert.Equal(2, await Metering.Cli.Program.RunAsync(["usage", .. common, "--to", "2026-10-01T00:00:00Z"], TextWriter.Null, TextWriter.Null, default));
    }
}
