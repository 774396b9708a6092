using System.Text;
using System.Text.Json;
using Metering.Cli;
using Metering.Ingest.CloudEvents;

namespace Metering.UnitTests.CloudEvents;

/// <summary><c>metering aggregate --event-mapping</c>: CloudEvents lines and batch lines in a file, through the real command.</summary>
public sealed class FileModeCloudEventTests : IDisposable
{
    private const string Dimensions = "cdn.egress.bytes=region,origin,tier";
    private readonly string _dir = Directory.CreateTempSubdirectory("filemode-ce-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Path(string name) => System.IO.Path.Combine(_dir, name);

    private string Write(string name, IEnumerable<string> lines)
    {
        var path = Path(name);
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    private async Task<(int Code, string Err, string Aggregates, string DeadLetters)> Aggregate(string input, bool mapping = true)
    {
        var args = new List<string> { "aggregate", "--input", input, "--output", input + ".out", "--dead-letters", input + ".dl", "--keep-dimensions", Dimensions };
        if (mapping)
        {
            args.AddRange(["--event-mapping", Write("mapping.json", [CloudEventTestKit.MappingJson])]);
        }

        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await Program.RunAsync([.. args], stdout, stderr, CancellationToken.None);
        return (code, stderr.ToString(), File.ReadAllText(input + ".out"), File.ReadAllText(input + ".dl"));
    }

    // Records the aggregates count (the command prints its balance to the process's stderr, not to the writer given).
    private static long Counted(string aggregates) =>
        aggregates.Split('\n', StringSplitOptions.RemoveEmptyEntries).Sum(l => JsonDocument.Parse(l).RootElement.GetProperty("count").GetInt64());

    private static string Egress(int i, string source = "/edge/fra1") =>
        CloudEventTestKit.Egress(time: $"\"2026-11-24T11:{i % 60:00}:00Z\"", bytes: (100 + i).ToString(System.Globalization.CultureInfo.InvariantCulture), id: $"e-{i}", source: source);

    // The native record the mapping makes of Egress(i): what a native producer would have sent.
    private static string NativeOf(int i, string source = "/edge/fra1") =>
        $$$"""{"id":"{{{CloudEventIds.Of(source, $"e-{i}")}}}","account":"acct-42","sku":"cdn.egress.bytes","quantity":{{{100 + i}}},"time":"2026-11-24T11:{{{i % 60:00}}}:00Z","dimensions":{"region":"eu","origin":"{{{source}}}","tier":"gold"}}""";

    private static string Native(int i) =>
        $$"""{"id":"n-{{i}}","account":"acct-7","sku":"api.calls","quantity":{{i + 1}},"time":"2026-11-24T12:{{i:00}}:00Z"}""";

    [Fact]
    public async Task Events_batches_and_native_lines_aggregate_exactly_as_the_equivalent_native_file()
    {
        // 10 native records, 10 events one per line, 25 events in batches of 5 (from two sources), interleaved.
        var mixed = new List<string>();
        var native = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            mixed.Add(Native(i));
            native.Add(Native(i));
            mixed.Add(Egress(i));
            native.Add(NativeOf(i));
            if (i % 2 == 1)
            {
                var first = 10 + (i / 2 * 5);
                var batch = Enumerable.Range(first, 5).Select(j => (j, Source: j % 2 == 0 ? "/edge/fra1" : "/edge/ams1")).ToList();
                mixed.Add("[" + string.Join(",", batch.Select(e => Egress(e.j, e.Source))) + "]");
                native.AddRange(batch.Select(e => NativeOf(e.j, e.Source)));
            }
        }

        var fromEvents = await Aggregate(Write("mixed.ndjson", mixed));
        var fromNative = await Aggregate(Write("native.ndjson", native), mapping: false);

        Assert.Equal(0, fromEvents.Code);
        Assert.Equal(45, Counted(fromEvents.Aggregates));
        Assert.Equal(fromNative.Aggregates, fromEvents.Aggregates);
        Assert.Contains("\"dimensions\":{\"origin\":\"/edge/ams1\",\"region\":\"eu\",\"tier\":\"gold\"}", fromEvents.Aggregates, StringComparison.Ordinal);
        Assert.Equal("", fromEvents.DeadLetters);
    }

    [Fact]
    public async Task The_same_source_and_id_is_counted_once_wherever_it_appears_and_another_source_is_another_record()
    {
        var input = Write("dups.ndjson", [
            Egress(1),
            "[" + Egress(1) + "," + Egress(1, source: "/edge/ams1") + "," + Egress(2) + "]",
            Egress(2),
        ]);

        var (code, _, aggregates, deadLetters) = await Aggregate(input);

        Assert.Equal(0, code);
        Assert.Equal(3, Counted(aggregates)); // 5 read, none rejected: 2 duplicates
        Assert.Equal("", deadLetters);
    }

    [Fact]
    public async Task Bad_events_are_dead_lettered_in_line_order_with_their_reason_and_an_event_of_a_batch_with_its_own_offset()
    {
        var unmapped = Egress(3).Replace("com.example.cdn.egress", "com.example.unknown", StringComparison.Ordinal);
        var batch = "[" + Egress(5) + ", " + unmapped + "]";
        var lines = new[]
        {
            Egress(1),
            unmapped,
            Egress(2).Replace("\"time\":\"2026-11-24T11:02:00Z\",", "", StringComparison.Ordinal),
            Egress(4).Replace("\"specversion\":\"1.0\"", "\"specversion\":\"0.3\"", StringComparison.Ordinal),
            batch,
            "[" + Egress(6),
            Native(1),
        };
        var input = Write("bad.ndjson", lines);

        var (code, _, aggregates, deadLetters) = await Aggregate(input);

        Assert.Equal(0, code);
        Assert.Equal(3, Counted(aggregates));
        var letters = deadLetters.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(
            [(2L, "unmapped_event_type"), (3, "missing_field"), (4, "invalid_cloudevent"), (5, "unmapped_event_type"), (6, "malformed_json")],
            letters.Select(l => (l.GetProperty("line").GetInt64(), l.GetProperty("reason").GetString()!)).ToList());
        Assert.Contains("type 'com.example.unknown' is not in the event mapping", letters[0].GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("no 'time' attribute", letters[1].GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("only CloudEvents 1.0", letters[2].GetProperty("detail").GetString(), StringComparison.Ordinal);

        // The bad event of the batch: its own bytes and its own offset in the file.
        var lineOffset = Encoding.UTF8.GetByteCount(string.Join("\n", lines.Take(4)) + "\n");
        Assert.Equal(lineOffset + batch.IndexOf(unmapped, StringComparison.Ordinal), letters[3].GetProperty("offset").GetInt64());
        Assert.Equal(unmapped, letters[3].GetProperty("raw").GetString());
        Assert.Contains("not a JSON array of events", letters[4].GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_mapping_a_cloudevent_line_is_a_native_record_missing_its_fields()
    {
        var (code, _, aggregates, deadLetters) = await Aggregate(Write("plain.ndjson", [Egress(1), Native(1)]), mapping: false);

        Assert.Equal(0, code);
        Assert.Equal(1, Counted(aggregates));
        Assert.Contains("\"reason\":\"missing_field\"", deadLetters, StringComparison.Ordinal);
    }
}
