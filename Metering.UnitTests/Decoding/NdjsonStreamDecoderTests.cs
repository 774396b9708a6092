using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Metering.Aggregates.Framing;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using static Metering.UnitTests.Decoding.DecoderTestKit;

namespace Metering.UnitTests.Decoding;

public class NdjsonStreamDecoderTests
{
    // Valid and invalid lines mixed, CRLF and LF, a blank line, an escaped string, a multi-byte character, no final newline.
    private static readonly byte[] Input = Encoding.UTF8.GetBytes(string.Join("", [
        """{"id":"1","account":"acct-é","sku":"s","quantity":"1.5","time":"2026-11-24T10:00:00Z"}""" + "\n",
        """{"id":"2","account":"b","sku":"s","quantity":-1,"time":"2026-11-24T10:00:00Z"}""" + "\r\n",
        "\n",
        """{"id":"3","account":"a\u0041","sku":"s\"q","quantity":2e2,"time":"2026-11-24T11:00:00+01:00"}""" + "\n",
        """{"id":"4","account":"c","sku":"s","quantity":1,"time":"2026-11-24T10:00:00Z""" + "\n",
        """{"id":"5","account":"d","sku":"s","quantity":"0.000000001","time":"2026-11-24T10:00:00Z"}""",
    ]));

    private static (List<(string, string, long, long, UInt128, long)> Records, List<(long, long, RejectReason)> Dead) Summary(CollectingSink sink) =>
        (sink.Records, sink.DeadLetters.Select(d => (d.LineNumber, d.ByteOffset, d.Reason)).ToList());

    [Fact]
    public void Whole_input_decodes_to_the_expected_records_and_dead_letters()
    {
        var sink = Decode(new ReadOnlySequence<byte>(Input));
        Assert.Equal(["acct-é", "aA", "d"], sink.Records.Select(r => r.Account));
        Assert.Equal([1L, 4L, 6L], sink.Records.Select(r => r.Line)); // line numbers count the blank line too
        Assert.Equal([RejectReason.NegativeQuantity, RejectReason.MalformedJson], sink.DeadLetters.Select(d => d.Reason));
        var secondLineOffset = Input.AsSpan().IndexOf((byte)'\n') + 1;
        Assert.Equal(secondLineOffset, sink.DeadLetters[0].ByteOffset);
        Assert.Equal(2, sink.DeadLetters[0].LineNumber);
        Assert.Contains("\"quantity\":-1", sink.DeadLetters[0].RawText, StringComparison.Ordinal);
    }

    [Fact]
    public void Records_split_at_every_byte_boundary_decode_identically()
    {
        var expected = Summary(Decode(new ReadOnlySequence<byte>(Input)));
        for (var cut = 1; cut < Input.Length; cut++)
        {
            var actual = Summary(Decode(Segment.Split(Input, cut)));
            Assert.Equal(expected.Records, actual.Records);
            Assert.Equal(expected.Dead, actual.Dead);
        }
    }

    [Fact]
    public void Records_split_into_three_segments_at_every_pair_of_boundaries_decode_identically()
    {
        var expected = Summary(Decode(new ReadOnlySequence<byte>(Input)));
        for (var a = 1; a < Input.Length; a += 3)
        {
            for (var b = a + 1; b < Input.Length; b += 5)
            {
                var actual = Summary(Decode(Segment.Split(Input, a, b)));
                Assert.Equal(expected.Records, actual.Records);
                Assert.Equal(expected.Dead, actual.Dead);
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public async Task A_pipe_fed_in_small_chunks_decodes_identically(int chunk)
    {
        var expected = Summary(Decode(new ReadOnlySequence<byte>(Input)));
        var pipe = new Pipe(new PipeOptions(minimumSegmentSize: 16));
        var catalog = new RecordCatalog();
        var options = Options();
        var sink = new CollectingSink(catalog);
        var decoding = new NdjsonStreamDecoder(new Metering.Aggregates.Admission.RecordAdmission(catalog, new Metering.Aggregates.Admission.AdmissionOptions { Decoder = options })).DecodeAsync(pipe.Reader, sink);
        for (var i = 0; i < Input.Length; i += chunk)
        {
            await pipe.Writer.WriteAsync(Input.AsMemory(i, Math.Min(chunk, Input.Length - i)));
        }

        await pipe.Writer.CompleteAsync();
        await decoding;
        var actual = Summary(sink);
        Assert.Equal(expected.Records, actual.Records);
        Assert.Equal(expected.Dead, actual.Dead);
    }

    [Fact]
    public async Task An_oversize_line_without_newline_is_dead_lettered_and_skipped_without_buffering_it()
    {
        var good = """{"id":"1","account":"a","sku":"s","quantity":1,"time":"2026-11-24T10:00:00Z"}""";
        var huge = "{\"pad\":\"" + new string('x', 50_000) + "\"}";
        var data = Encoding.UTF8.GetBytes(good + "\n" + huge + "\n" + good.Replace("\"1\"", "\"2\"", StringComparison.Ordinal) + "\n");
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var catalog = new RecordCatalog();
        var options = Options(maxLineBytes: 1024);
        var decoder = new NdjsonStreamDecoder(new Metering.Aggregates.Admission.RecordAdmission(catalog, new Metering.Aggregates.Admission.AdmissionOptions { Decoder = options }));
        var sink = new CollectingSink(catalog);
        var decoding = decoder.DecodeAsync(pipe.Reader, sink);
        for (var i = 0; i < data.Length; i += 4096)
        {
            await pipe.Writer.WriteAsync(data.AsMemory(i, Math.Min(4096, data.Length - i)));
        }

        await pipe.Writer.CompleteAsync();
        await decoding;

        Assert.Equal(2, sink.Records.Count);
        var dead = Assert.Single(sink.DeadLetters);
        Assert.Equal(RejectReason.LineTooLong, dead.Reason);
        Assert.Equal(2, dead.LineNumber);
        Assert.Equal(good.Length + 1, dead.ByteOffset);
        Assert.True(dead.IsTruncated);
        Assert.True(dead.Raw.Length <= options.OversizeLinePrefixBytes);
        Assert.Equal([1L, 3L], sink.Records.Select(r => r.Line));
        Assert.Equal(3, decoder.Counters.Read);
        Assert.Equal(data.Length, decoder.Counters.Bytes);
    }

    [Fact]
    public void A_complete_oversize_line_is_rejected_with_its_length()
    {
        var line = "{\"pad\":\"" + new string('x', 2000) + "\"}";
        var sink = Decode(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(line + "\n")), Options(maxLineBytes: 1024));
        var dead = Assert.Single(sink.DeadLetters);
        Assert.Equal(RejectReason.LineTooLong, dead.Reason);
        Assert.Equal(line.Length, dead.RawLength);
    }

    [Fact]
    public void Read_equals_decoded_plus_rejected_and_blank_lines_are_not_records()
    {
        var catalog = new RecordCatalog();
        var options = Options();
        var decoder = new NdjsonStreamDecoder(new Metering.Aggregates.Admission.RecordAdmission(catalog, new Metering.Aggregates.Admission.AdmissionOptions { Decoder = options }));
        decoder.Decode(new ReadOnlySequence<byte>(Input), new CollectingSink(catalog));
        Assert.Equal(5, decoder.Counters.Read);
        Assert.Equal(3, decoder.Counters.Decoded);
        Assert.Equal(2, decoder.Counters.Rejected);
    }
}
