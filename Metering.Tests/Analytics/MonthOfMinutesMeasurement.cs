using System.Diagnostics;
using Metering.Analytics.ChDb;
using Metering.Analytics;
using Metering.Ledger.Outbox;
using Xunit.Abstractions;

namespace Metering.Tests.Analytics;

/// <summary>
/// The analytics issue's latency question: a month of minute windows for one account (3 SKUs, 2 regions, 267,840
/// windows, among 8 other accounts' 2,142,720), queried by day and by hour for the whole month through the usage store
/// on embedded chDB. Prints p50/p99; asserts only that every answer is right (the machine is shared).
/// </summary>
public sealed class MonthOfMinutesMeasurement(ITestOutputHelper output)
{
    [Fact]
    public async Task A_month_of_minute_data_for_one_account_answers_by_day_and_hour_with_exact_sums()
    {
        var transport = new ChDbTransport(ChDbShared.Session, ownsSession: false);
        var schema = new AnalyticsSchema(ChDbShared.NewDatabaseName());
        foreach (var ddl in schema.CreateStatements())
        {
            await transport.ExecuteAsync(ddl, default);
        }

        var month = new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
        string[] skus = ["api.calls", "egress.gb", "storage.gb"];
        string[] regions = ["{\"region\":\"eu\"}", "{\"region\":\"us\"}"];
        long id = 0;
        decimal expectedQuantity = 0;
        for (var account = 0; account < 9; account++)
        {
            var rows = new List<RatedWindowRow>(31 * 1440 * 6);
            for (var minute = 0; minute < 31 * 1440; minute++)
            {
                var start = month.AddMinutes(minute);
                foreach (var sku in skus)
                {
                    foreach (var region in regions)
                    {
                        var quantity = ((minute % 97) + 1) * 0.001m;
                        rows.Add(new RatedWindowRow(++id, $"acct-{account}", sku, start, start.AddMinutes(1), region, quantity, 1, quantity / 10, "USD", "h", month));
                        if (account == 0)
                        {
                            expectedQuantity += quantity;
                        }
                    }
                }
            }

            foreach (var chunk in rows.Chunk(100_000))
            {
                await transport.InsertArrowAsync(schema.InsertHead, RatedWindowArrow.Encode(chunk), default);
            }
        }

        var store = new ClickHouseUsageStore(transport, schema);
        foreach (var (granularity, buckets) in new[] { (UsageGranularity.Day, 31), (UsageGranularity.Hour, 31 * 24) })
        {
            var query = new UsageQuery("acct-0", null, month, month.AddDays(31), granularity, ["region"]);
            var samples = new double[200];
            for (var i = -10; i < samples.Length; i++)
            {
                var clock = Stopwatch.StartNew();
                var points = await store.QueryUsageAsync(query, default);
                if (i >= 0)
                {
                    samples[i] = clock.Elapsed.TotalMilliseconds;
                }

                Assert.Equal(buckets * skus.Length * regions.Length, points.Count);
                Assert.Equal(expectedQuantity, points.Sum(p => p.Quantity));
            }

            Array.Sort(samples);
            output.WriteLine($"usage store, one account, 31 days of minute windows by {granularity}: p50 {samples[99]:F1} ms, p99 {samples[197]:F1} ms, max {samples[^1]:F1} ms ({samples.Length} queries)");
        }
    }
}
