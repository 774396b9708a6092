using Metering.Analytics.ChDb;
using Metering.Analytics;
using Metering.Ledger.Outbox;

namespace Metering.Tests.Analytics;

public sealed class ArrowInsertTests
{
    internal static RatedWindowRow Row(long id, string account = "acct-1", string sku = "api.calls", int minute = 0, decimal quantity = 1.5m, long count = 3, decimal amount = 0.25m, string dims = "{}") =>
        new(id, account, sku,
            new DateTimeOffset(2026, 11, 1, 10, 0, 0, TimeSpan.Zero).AddMinutes(minute),
            new DateTimeOffset(2026, 11, 1, 10, 1, 0, TimeSpan.Zero).AddMinutes(minute),
            dims, quantity, count, amount, "USD", "hash-1", new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Arrow_batch_streamed_into_chdb_keeps_exact_decimals_and_times()
    {
        var schema = new AnalyticsSchema(ChDbShared.NewDatabaseName());
        using var transport = new ChDbTransport(ChDbShared.Session, ownsSession: false);
        foreach (var ddl in schema.CreateStatements())
        {
            await transport.ExecuteAsync(ddl, default);
        }

        var rows = new[]
        {
            Row(1, quantity: 12345678901234567.123456789m, amount: -0.000000001m, dims: "{\"region\": \"eu\"}"),
            Row(2, minute: 61, quantity: 0.000000001m, amount: 9999999999999999999.999999999m),
        };
        await transport.InsertArrowAsync(schema.InsertHead, UsageWindowArrow.Encode(rows), default);
        var back = await transport.QueryAsync(
            $"SELECT id, toString(quantity), toString(amount), toUnixTimestamp64Milli(window_start), dims['region'] FROM {schema.UsageWindows} ORDER BY id", [], default);
        Assert.Equal(2, back.Count);
        Assert.Equal($"1|12345678901234567.123456789|-0.000000001|{rows[0].WindowStart.ToUnixTimeMilliseconds()}|eu", string.Join('|', back[0]));
        Assert.Equal($"2|0.000000001|9999999999999999999.999999999|{rows[1].WindowStart.ToUnixTimeMilliseconds()}|", string.Join('|', back[1]));
    }
}
