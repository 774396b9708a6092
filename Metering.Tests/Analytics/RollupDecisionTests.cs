using Metering.Analytics.ChDb;
using Metering.Analytics;
using Metering.Ledger.Outbox;

namespace Metering.Tests.Analytics;

/// <summary>
/// Why the hourly/daily rollups are computed at query time (docs/analytics.md): a SummingMergeTree materialized view
/// sees every inserted block, including a re-sent one, and cannot tell the copies apart once summed.
/// </summary>
public sealed class RollupDecisionTests
{
    [Fact]
    public async Task A_summing_materialized_view_double_counts_a_resent_batch_while_the_base_table_with_final_does_not()
    {
        var schema = new AnalyticsSchema(ChDbShared.NewDatabaseName());
        using var transport = new ChDbTransport(ChDbShared.Session, ownsSession: false);
        foreach (var ddl in schema.CreateStatements())
        {
            await transport.ExecuteAsync(ddl, default);
        }

        await transport.ExecuteAsync($"""
            CREATE MATERIALIZED VIEW {schema.Database}.usage_hourly_mv
            ENGINE = SummingMergeTree ORDER BY (account, sku, hour)
            AS SELECT account, sku, toStartOfHour(window_start) AS hour, sum(quantity) AS quantity
            FROM {schema.UsageWindows} GROUP BY account, sku, hour
            """, default);

        var batch = RatedWindowArrow.Encode([ArrowInsertTests.Row(1, quantity: 2.5m), ArrowInsertTests.Row(2, minute: 1, quantity: 4m)]);
        await transport.InsertArrowAsync(schema.InsertHead, batch, default);
        await transport.InsertArrowAsync(schema.InsertHead, batch, default); // the retry after a crash before the mark
        await transport.ExecuteAsync($"OPTIMIZE TABLE {schema.Database}.usage_hourly_mv FINAL", default);

        var view = await transport.QueryAsync($"SELECT toString(sum(quantity)) FROM {schema.Database}.usage_hourly_mv", [], default);
        var table = await transport.QueryAsync($"SELECT toString(sum(quantity)) FROM {schema.UsageWindows} FINAL", [], default);
        Assert.Equal("13", view[0][0]);   // 6.5 counted twice
        Assert.Equal("6.5", table[0][0]); // exact
    }
}
