using Metering.Analytics;
using Metering.Ledger.Outbox;

namespace Metering.UnitTests.Analytics;

public sealed class ArrowStreamsTests
{
    private static readonly DateTimeOffset November = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private static RatedWindowRow Row(long id, decimal quantity, decimal amount) =>
        new(id, "acct-" + (id % 3), "api.calls", November.AddMinutes(id), November.AddMinutes(id + 1), """{"region": "eu"}""", quantity, id + 1, amount, "USD", "h", November);

    [Fact]
    public void Compressed_blob_decodes_to_exactly_the_rows_encoded()
    {
        RatedWindowRow[] rows = [Row(1, 12345678901234567.123456789m, -0.000000001m), Row(2, 0.000000001m, 9999999999999999999.999999999m)];

        Assert.Equal(rows, RatedWindowArrow.Decode(RatedWindowArrow.Encode(rows, compress: true)));
    }

    [Fact]
    public void Joined_streams_read_as_one_stream_of_every_batch_in_order()
    {
        var blobs = new[]
        {
            RatedWindowArrow.Encode([.. Enumerable.Range(1, 300).Select(i => Row(i, i / 8m, -i / 4m))], compress: true),
            RatedWindowArrow.Encode([Row(301, 1, 2)], compress: true),
            RatedWindowArrow.Encode([.. Enumerable.Range(302, 50).Select(i => Row(i, i, 0))], compress: true),
        };

        var joined = ArrowStreams.Concatenate([.. blobs.Select(b => (ReadOnlyMemory<byte>)b)]);

        Assert.Equal(blobs.SelectMany(b => RatedWindowArrow.Decode(b)), RatedWindowArrow.Decode(joined));
        Assert.Equal(Enumerable.Range(1, 351).Select(i => (long)i), RatedWindowArrow.Decode(joined).Select(r => r.Id));
    }

    [Fact]
    public void Values_past_nine_decimals_are_stored_as_numeric_38_9_would_store_them()
    {
        var back = RatedWindowArrow.Decode(RatedWindowArrow.Encode([Row(1, 1.5000000000000m, 2m / 3m), Row(2, 0.0000000005m, -0.0000000005m)]));

        Assert.Equal([(1.5m, 0.666666667m), (0.000000001m, -0.000000001m)], back.Select(r => (r.Quantity, r.Amount)));
    }

    [Fact]
    public void One_stream_is_returned_as_it_is()
    {
        var blob = RatedWindowArrow.Encode([Row(1, 1, 1)], compress: true);

        Assert.Equal(blob, ArrowStreams.Concatenate([blob]));
    }

    [Fact]
    public void A_stream_cut_short_or_not_framed_as_ipc_is_refused_with_its_position()
    {
        var blob = RatedWindowArrow.Encode([Row(1, 1, 1)]);

        var cut = Assert.Throws<InvalidDataException>(() => ArrowStreams.Concatenate([blob, blob.AsMemory(0, blob.Length - 8)]));
        Assert.Contains("stream 1", cut.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => ArrowStreams.Concatenate([new byte[16], blob]));
        Assert.Throws<InvalidDataException>(() => ArrowStreams.Concatenate([blob, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x10, 0, 0 }]));
    }
}
