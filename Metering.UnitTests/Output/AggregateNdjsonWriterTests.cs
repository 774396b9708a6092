using System.Text;
using System.Text.Json;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using Metering.Ingest.Output;

namespace Metering.UnitTests.Output;

public sealed class AggregateNdjsonWriterTests
{
    private static readonly TumblingWindows Minutes = TumblingWindows.OneMinute;

    /// <summary>
    /// A catalog whose ids are interned in an order unlike the string order, with strings the JSON encoder escapes
    /// (quote, backslash, control character, non-ASCII), and rows over many windows, with and without dimensions,
    /// with times whose fraction has 0 to 7 digits, and quantities from 0 to past 2^64 nano-units.
    /// </summary>
    private static (RecordCatalog Catalog, List<AggregateRow> Rows) Workload(int rows, int seed)
    {
        var catalog = new RecordCatalog();
        string[] accounts = ["zeta", "acct-10", "acct-9", "acct-\u00e9t\u00e9", "a\"quote", "back\\slash", "tab\tbed", "Acct-1", "acct-1", "\u65e5\u672c"];
        string[] skus = ["workers.cpu.ms", "ai.tokens", "cdn.egress.bytes", "dns.queries"];
        string[] dimensionSets = ["region=us", "colo=c1\u001Fregion=eu", "region=eu", "region=\u00fcber"];
        var accountIds = accounts.Select(a => catalog.Accounts.GetOrAdd(Encoding.UTF8.GetBytes(a))).ToArray();
        var skuIds = skus.Select(s => catalog.Skus.GetOrAdd(Encoding.UTF8.GetBytes(s))).ToArray();
        var dimensionIds = dimensionSets.Select(d => catalog.DimensionSets.GetOrAdd(Encoding.UTF8.GetBytes(d))).ToArray();
        var random = new Random(seed);
        var start = Minutes.IndexOf(new DateTime(2026, 10, 1, 0, 0, 0, DateTimeKind.Utc).Ticks);
        var seen = new HashSet<(int, int, uint, int)>();
        var list = new List<AggregateRow>(rows);
        while (list.Count < rows)
        {
            var key = (accountIds[random.Next(accountIds.Length)], skuIds[random.Next(skuIds.Length)], start + (uint)random.Next(50_000),
                random.Next(3) == 0 ? 0 : dimensionIds[random.Next(dimensionIds.Length)]);
            if (!seen.Add(key))
            {
                continue;
            }

            var windowStart = Minutes.StartTicks(key.Item3);
            // Fractions of 0..7 digits: whole seconds, milliseconds, microseconds (what the aggregates keep), ticks.
            long[] steps = [TimeSpan.TicksPerSecond, TimeSpan.TicksPerMillisecond, 10, 1];
            var first = windowStart + (random.NextInt64(0, Minutes.LengthTicks / 2) / steps[random.Next(4)] * steps[random.Next(4)]);
            var last = first + random.NextInt64(0, Minutes.LengthTicks / 2);
            Int128 sum = random.Next(4) switch
            {
                0 => 0,
                1 => random.NextInt64(1, 1_000_000_000),
                2 => random.NextInt64() * (Int128)1_000_000,
                _ => (Int128)random.NextInt64() * random.NextInt64(),
            };
            list.Add(new AggregateRow(key.Item1, key.Item2, key.Item3, key.Item4, random.NextInt64(1, 1_000_000), sum,
                random.NextInt64(0, 1_000_000_000_000), random.NextInt64(), first, last));
        }

        return (catalog, list);
    }

    /// <summary>The writer as it was before it was rebuilt for millions of rows: LINQ over the strings, one Utf8JsonWriter.</summary>
    private static byte[] Reference(IEnumerable<AggregateRow> rows, RecordCatalog catalog, TumblingWindows windows)
    {
        var output = new MemoryStream();
        var sorted = rows
            .OrderBy(r => catalog.Accounts.GetString(r.AccountId), StringComparer.Ordinal)
            .ThenBy(r => catalog.Skus.GetString(r.SkuId), StringComparer.Ordinal)
            .ThenBy(r => r.WindowIndex)
            .ThenBy(r => r.DimensionSetId == 0 ? "" : catalog.DimensionSets.GetString(r.DimensionSetId), StringComparer.Ordinal);
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        static string Utc(long ticks) =>
            new DateTime(ticks, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture);
        foreach (var r in sorted)
        {
            json.WriteStartObject();
            json.WriteString("account", catalog.Accounts.GetString(r.AccountId));
            json.WriteString("sku", catalog.Skus.GetString(r.SkuId));
            json.WriteString("window_start", Utc(windows.StartTicks(r.WindowIndex)));
            json.WriteString("window_end", Utc(windows.StartTicks(r.WindowIndex) + windows.LengthTicks));
            json.WriteStartObject("dimensions");
            foreach (var (k, v) in catalog.DescribeDimensions(r.DimensionSetId))
            {
                json.WriteString(k, v);
            }

            json.WriteEndObject();
            json.WriteNumber("count", r.Count);
            json.WriteString("quantity", FixedPoint.Format(r.SumNanos));
            json.WriteString("min", FixedPoint.Format(r.MinNanos));
            json.WriteString("max", FixedPoint.Format(r.MaxNanos));
            json.WriteString("first_time", Utc(r.FirstTicks));
            json.WriteString("last_time", Utc(r.LastTicks));
            json.WriteEndObject();
            json.Flush();
            output.WriteByte((byte)'\n');
            json.Reset();
        }

        return output.ToArray();
    }

    private static byte[] Written(IEnumerable<AggregateRow> rows, RecordCatalog catalog)
    {
        var output = new MemoryStream();
        AggregateNdjsonWriter.Write(output, rows, catalog, Minutes);
        return output.ToArray();
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5_000, 2)]
    [InlineData(150_000, 3)] // more than two chunks: the parallel sort and the chunked formatting
    public void Writes_the_bytes_of_the_plain_json_writer_in_ordinal_string_order(int rows, int seed)
    {
        var (catalog, list) = Workload(rows, seed);
        var expected = Reference(list, catalog, Minutes);

        Assert.Equal(expected, Written(list, catalog));
        Assert.Equal(expected, Written(list.ToArray(), catalog)); // an array, not a list
        Assert.Equal(expected, Written(list.Where(_ => true), catalog)); // any enumerable
    }

    [Fact]
    public void Windows_too_far_apart_to_be_formatted_once_each_are_formatted_per_line_with_the_same_bytes()
    {
        var (catalog, list) = Workload(2_000, 4);
        var spread = list.Select((r, i) => i % 2 == 0 ? r : r with { WindowIndex = r.WindowIndex + 3_000_000 }).ToList();

        Assert.Equal(Reference(spread, catalog, Minutes), Written(spread, catalog));
    }

    [Fact]
    public void Keys_too_wide_for_one_64_bit_integer_are_sorted_into_the_same_bytes()
    {
        // 40,000 accounts (16 bits of rank), windows 3.9e9 minutes apart (32 bits), 140,000 rows (18 bits): 66 bits.
        var catalog = new RecordCatalog();
        var random = new Random(7);
        var accountIds = Enumerable.Range(0, 40_000).OrderBy(_ => random.Next())
            .Select(i => catalog.Accounts.GetOrAdd(Encoding.UTF8.GetBytes($"acct-{i}"))).ToArray();
        var sku = catalog.Skus.GetOrAdd("s"u8);
        var start = Minutes.IndexOf(new DateTime(2026, 10, 1, 0, 0, 0, DateTimeKind.Utc).Ticks);
        var rows = Enumerable.Range(0, 140_000).Select(i =>
        {
            var window = start + ((uint)(i / 40_000) * 1_300_000_000u);
            var ticks = Minutes.StartTicks(window);
            return new AggregateRow(accountIds[i % 40_000], sku, window, 0, 1, i, i, i, ticks, ticks);
        }).OrderBy(_ => random.Next()).ToList();

        Assert.Equal(Reference(rows, catalog, Minutes), Written(rows, catalog));
    }

    [Fact]
    public void Writes_nothing_for_no_rows()
    {
        Assert.Empty(Written([], new RecordCatalog()));
    }

    [Fact]
    public void Reaches_the_stream_in_a_few_large_writes_not_one_per_row()
    {
        var (catalog, list) = Workload(20_000, 4);
        using var output = new CountingStream();
        AggregateNdjsonWriter.Write(output, list, catalog, Minutes);

        // One write per 65,536-row chunk and one flush at the end; a per-row flush was one write system call per row.
        Assert.Equal(Reference(list, catalog, Minutes).Length, output.Length);
        Assert.True(output.Calls <= 4, $"{output.Calls} writes and flushes for {list.Count} rows");
    }

    /// <summary>Counts the calls that would each be a system call on a file.</summary>
    private sealed class CountingStream : MemoryStream
    {
        public int Calls { get; private set; }

        public override void Write(byte[] buffer, int offset, int count)
        {
            Calls++;
            base.Write(buffer, offset, count);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Calls++;
            base.Write(buffer);
        }

        public override void WriteByte(byte value)
        {
            Calls++;
            base.WriteByte(value);
        }

        public override void Flush()
        {
            Calls++;
            base.Flush();
        }
    }
}
