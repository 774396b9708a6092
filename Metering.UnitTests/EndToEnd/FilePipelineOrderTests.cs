using System.IO.Pipelines;
using System.Text;
using System.Text.RegularExpressions;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Framing;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using Metering.DevKit.Workload;
using Metering.Ingest.Output;
using Metering.Ingest.Pipeline;

namespace Metering.UnitTests.EndToEnd;

/// <summary>
/// The file pipeline decodes chunks of lines on several threads and deduplicates them in input order: its output
/// must be that of one sequential pass, byte for byte, whatever the number of threads.
/// </summary>
public sealed partial class FilePipelineOrderTests
{
    [GeneratedRegex("\"quantity\":(\"[^\"]*\"|[0-9.]+)")]
    private static partial Regex Quantity();

    /// <summary>A workload with every bad kind, duplicates, conflicts (a later copy of an id with another quantity) and expired records, interleaved.</summary>
    private static byte[] Input(int records, int accounts)
    {
        var generated = new MemoryStream();
        new SyntheticWorkloadGenerator(new WorkloadOptions { Records = records, Accounts = accounts, DuplicateShare = 0.03, BadShare = 0.01 }).Generate(generated);
        var lines = Encoding.UTF8.GetString(generated.ToArray()).Split('\n').ToList();
        var mixed = new List<string>();
        for (var i = 0; i < lines.Count; i++)
        {
            mixed.Add(lines[i]);
            if (i % 97 == 0 && i >= 300 && lines[i - 300].Contains("\"quantity\":", StringComparison.Ordinal) && lines[i - 300].Length < 1000)
            {
                mixed.Add(Quantity().Replace(lines[i - 300], "\"quantity\":\"123.5\"", 1)); // a conflict with a line 300 back
            }

            if (i % 211 == 0)
            {
                mixed.Add($$"""{"id":"old-{{i}}","account":"acct-1","sku":"cdn.requests","quantity":1,"time":"2026-09-01T00:00:00Z"}"""); // 2 months behind: expired
            }

            if (i % 503 == 0)
            {
                mixed.Add(i % 2 == 0 ? "   " : ""); // blank lines count in the line numbers only
            }
        }

        mixed.Insert(777, Quantity().Replace(mixed[20], "\"quantity\":5", 1) + "\r"); // CRLF
        mixed.Insert(1500, "{\"id\":\"" + new string('x', 3 << 20) + "\"}"); // longer than a read: rejected before its newline is seen
        return Encoding.UTF8.GetBytes(string.Join("\n", mixed));
    }

    private static async Task<(byte[] Aggregates, byte[] DeadLetters, PipelineResult Result)> Run(byte[] input, int threads, Func<RecordCatalog>? catalog = null)
    {
        var options = new AggregationPipelineOptions { DecodeThreads = threads, Decoder = new DecoderOptions { BatchSize = 64 } };
        var cat = catalog?.Invoke() ?? new RecordCatalog();
        var deadLetterBytes = new MemoryStream();
        PipelineResult result;
        using (var deadLetters = new DeadLetterWriter(deadLetterBytes))
        {
            result = await new AggregationPipeline(options, cat, deadLetters).RunAsync(new MemoryStream(input));
        }

        var aggregates = new MemoryStream();
        AggregateNdjsonWriter.Write(aggregates, result.Rows, cat, new TumblingWindows(options.Aggregator.WindowLength));
        return (aggregates.ToArray(), deadLetterBytes.ToArray(), result);
    }

    [Fact]
    public async Task Any_number_of_decoding_threads_writes_the_bytes_of_one()
    {
        var input = Input(40_000, 2_000);

        var one = await Run(input, 1);
        var four = await Run(input, 4);

        Assert.True(one.Result.IsBalanced);
        Assert.True(one.Result.RejectedByReason[(int)RejectReason.Conflict] > 50);
        Assert.True(one.Result.RejectedByReason[(int)RejectReason.ExpiredTime] > 50);
        Assert.True(one.Result.Duplicates > 500);
        Assert.Equal(one.Result.RejectedByReason, four.Result.RejectedByReason);
        Assert.Equal(one.Result.Bytes, four.Result.Bytes);
        Assert.Equal(input.Length, four.Result.Bytes);
        Assert.Equal(one.Aggregates, four.Aggregates);
        Assert.Equal(one.DeadLetters, four.DeadLetters);
    }

    [Fact]
    public async Task Dead_letters_are_written_in_line_order()
    {
        var (_, deadLetters, _) = await Run(Input(20_000, 500), 4);

        var lines = Encoding.UTF8.GetString(deadLetters).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("line").GetInt64()).ToList();
        Assert.True(lines.Count > 300);
        Assert.Equal(lines.Order(), lines);
    }

    [Fact]
    public async Task Framing_and_decode_rejects_are_the_sequential_decoders_byte_for_byte()
    {
        // Without conflicts or expired records every dead letter comes from the decoder: compare with the streaming
        // decoder the engine and the edge share (same reads, so the same verdict on a line longer than a read).
        var input = Input(20_000, 500);
        var reference = new MemoryStream();
        using (var writer = new DeadLetterWriter(reference))
        {
            var decoder = new NdjsonStreamDecoder(new RecordAdmission(new RecordCatalog(), new AdmissionOptions()));
            var reader = PipeReader.Create(new MemoryStream(input), new StreamPipeReaderOptions(bufferSize: 1 << 20, minimumReadSize: 1 << 18));
            await decoder.DecodeAsync(reader, new LetterSink(writer));
        }

        var (_, deadLetters, _) = await Run(input, 3);

        var ours = Encoding.UTF8.GetString(deadLetters).Split('\n').Where(l => !l.Contains("\"reason\":\"conflict\"", StringComparison.Ordinal) && !l.Contains("\"reason\":\"expired_time\"", StringComparison.Ordinal));
        Assert.Equal(Encoding.UTF8.GetString(reference.ToArray()).Split('\n'), ours);
        Assert.Contains("no newline within it", Encoding.UTF8.GetString(deadLetters), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Near_a_catalog_limit_the_same_records_are_refused_whatever_the_threads()
    {
        var input = Input(20_000, 3_000);

        var one = await Run(input, 1, () => new RecordCatalog(maxAccounts: 1_000));
        var four = await Run(input, 4, () => new RecordCatalog(maxAccounts: 1_000));

        Assert.True(one.Result.RejectedByReason[(int)RejectReason.CardinalityLimit] > 1_000);
        Assert.Equal(one.DeadLetters, four.DeadLetters);
        Assert.Equal(one.Aggregates, four.Aggregates);
    }

    private sealed class LetterSink(DeadLetterWriter writer) : IRecordSink
    {
        public RecordBatch OnBatch(RecordBatch batch) => batch;

        public void OnDeadLetter(DeadLetter deadLetter) => writer.Write(deadLetter);
    }
}
