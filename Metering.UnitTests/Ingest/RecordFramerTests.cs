using System.Text;
using Metering.Web.HttpIngest;

namespace Metering.UnitTests.Ingest;

public sealed class RecordFramerTests
{
    private sealed class Collect : IFramedRecordTarget
    {
        public List<string> Items { get; } = [];

        public void OnRecord(ReadOnlySpan<byte> record) => Items.Add(Encoding.UTF8.GetString(record));

        public void OnOversize(long length) => Items.Add($"<oversize {length}>");
    }

    private static (List<string> Items, string? Error) Frame(BodyFormat format, byte[] body, int maxRecordBytes, params int[] cuts)
    {
        var framer = new RecordFramer(format, maxRecordBytes);
        var target = new Collect();
        var start = 0;
        var ok = true;
        foreach (var cut in cuts.Append(body.Length))
        {
            ok &= framer.Feed(body.AsSpan(start, cut - start), target);
            start = cut;
        }

        ok = ok && framer.Complete(target);
        return (target.Items, ok ? null : framer.Error);
    }

    private const string Array = """
        [
          {"id":"a,1","account":"x]","dimensions":{"k":"v\"],"}},
          {"id":"b"} ,
          "scalar", 17, [1,[2]]
        ]
        """;

    [Fact]
    public void Json_array_elements_are_cut_at_top_level_commas_only()
    {
        var (items, error) = Frame(BodyFormat.JsonArray, Encoding.UTF8.GetBytes(Array), 1024);
        Assert.Null(error);
        Assert.Equal(["""{"id":"a,1","account":"x]","dimensions":{"k":"v\"],"}}""", """{"id":"b"}""", "\"scalar\"", "17", "[1,[2]]"], items);
    }

    [Fact]
    public void Every_split_point_of_a_body_frames_the_same_records()
    {
        var array = Encoding.UTF8.GetBytes(Array);
        var ndjson = Encoding.UTF8.GetBytes("{\"id\":\"a\\n\"}\r\n\n  \n{\"id\":\"b\"}\n" + new string('x', 40) + "\n{\"id\":\"c\"}");
        foreach (var (format, body) in new[] { (BodyFormat.JsonArray, array), (BodyFormat.Ndjson, ndjson) })
        {
            var whole = Frame(format, body, 32);
            for (var i = 0; i <= body.Length; i++)
            {
                for (var j = i; j <= body.Length; j += 7)
                {
                    var split = Frame(format, body, 32, i, j);
                    Assert.Equal(whole.Items, split.Items);
                    Assert.Equal(whole.Error, split.Error);
                }
            }
        }
    }

    [Fact]
    public void Oversize_records_are_reported_with_their_length_and_framing_goes_on()
    {
        var (items, error) = Frame(BodyFormat.Ndjson, Encoding.UTF8.GetBytes("{\"a\":1}\n" + new string('y', 100) + "\n{\"b\":2}\n"), 64, 3, 50, 90);
        Assert.Null(error);
        Assert.Equal(["{\"a\":1}", "<oversize 100>", "{\"b\":2}"], items);
        (items, error) = Frame(BodyFormat.JsonArray, Encoding.UTF8.GetBytes("[{\"a\":\"" + new string('y', 100) + "\"},{\"b\":2}]"), 64, 10);
        Assert.Null(error);
        Assert.Equal(["<oversize 108>", "{\"b\":2}"], items);
    }

    [Theory]
    [InlineData("", "the body is empty")]
    [InlineData("{\"id\":1}", "one JSON array")]
    [InlineData("[{\"id\":1}", "not closed")]
    [InlineData("[{\"id\":1},]", "trailing comma")]
    [InlineData("[{\"id\":1}] x", "after the closing")]
    [InlineData("[,{\"id\":1}]", "empty")]
    public void Malformed_arrays_are_framing_errors(string body, string expected)
    {
        var (_, error) = Frame(BodyFormat.JsonArray, Encoding.UTF8.GetBytes(body), 64);
        Assert.NotNull(error);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_array_has_no_records()
    {
        var (items, error) = Frame(BodyFormat.JsonArray, " [ ] "u8.ToArray(), 64);
        Assert.Null(error);
        Assert.Empty(items);
    }
}
