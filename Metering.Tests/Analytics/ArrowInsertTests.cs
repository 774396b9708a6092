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

    /// <summary>A fresh usage_windows table in the shared chDB session.</summary>
    private static async Task<(AnalyticsSchema Schema, ChDbTransport Transport)> NewTableAsync()
    {
        var schema = new AnalyticsSchema(ChDbShared.NewDatabaseName());
        var transport = new ChDbTransport(ChDbShared.Session, ownsSession: false);
        foreach (var ddl in schema.CreateStatements())
        {
            await transport.ExecuteAsync(ddl, default);
        }

        return (schema, transport);
    }

    [Fact]
    public async Task Arrow_batch_streamed_into_chdb_keeps_exact_decimals_and_times()
    {
        var (schema, transport) = await NewTableAsync();
        using var owned = transport;

        var rows = new[]
        {
            Row(1, quantity: 12345678901234567.123456789m, amount: -0.000000001m, dims: "{\"region\": \"eu\"}"),
            Row(2, minute: 61, quantity: 0.000000001m, amount: 9999999999999999999.999999999m),
        };
        await transport.InsertArrowAsync(schema.InsertHead, RatedWindowArrow.Encode(rows), default);
        var back = await transport.QueryAsync(
            $"SELECT id, toString(quantity), toString(amount), toUnixTimestamp64Milli(window_start), dims['region'] FROM {schema.UsageWindows} ORDER BY id", [], default);
        Assert.Equal(2, back.Count);
        Assert.Equal($"1|12345678901234567.123456789|-0.000000001|{rows[0].WindowStart.ToUnixTimeMilliseconds()}|eu", string.Join('|', back[0]));
        Assert.Equal($"2|0.000000001|9999999999999999999.999999999|{rows[1].WindowStart.ToUnixTimeMilliseconds()}|", string.Join('|', back[1]));
    }

    [Fact]
    public async Task Compressed_outbox_blobs_joined_into_one_stream_insert_every_row_exactly()
    {
        var (schema, transport) = await NewTableAsync();
        using var owned = transport;

        // Three blobs as the flush writes them (lz4-compressed buffers), sent as ONE stream without decoding them.
        var blobs = new[]
        {
            RatedWindowArrow.Encode([Row(1, quantity: 12345678901234567.123456789m, amount: -0.000000001m, dims: "{\"region\": \"eu\"}")], compress: true),
            RatedWindowArrow.Encode([.. Enumerable.Range(2, 5000).Select(i => Row(i, minute: i % 1440, quantity: i / 1000m))], compress: true),
            RatedWindowArrow.Encode([Row(5002, account: "o'brien \\ \"quoted\"", amount: 9999999999999999999.999999999m)], compress: true),
        };
        var joined = ArrowStreams.Concatenate([.. blobs.Select(b => (ReadOnlyMemory<byte>)b)]);
        await transport.InsertArrowAsync(schema.InsertHead, joined, default);

        var back = await transport.QueryAsync(
            $"SELECT count(), uniqExact(id), toString(sum(quantity)), toString(sum(amount)), countIf(account = 'o''brien \\\\ \"quoted\"') FROM {schema.UsageWindows}", [], default);
        var expected = RatedWindowArrow.Decode(joined);
        Assert.Equal(5002, expected.Count);
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        Assert.Equal("5002|5002", $"{back[0][0]}|{back[0][1]}");
        Assert.Equal(expected.Sum(r => r.Quantity), decimal.Parse(back[0][2]!, inv));
        Assert.Equal(expected.Sum(r => r.Amount), decimal.Parse(back[0][3]!, inv));
        Assert.Equal("1", back[0][4]);
        Assert.Equal(blobs.Sum(b => RatedWindowArrow.Decode(b).Count), expected.Count);
    }
}
