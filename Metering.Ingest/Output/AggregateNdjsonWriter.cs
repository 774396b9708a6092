using System.Runtime.CompilerServices;
using System.Buffers;
using System.Buffers.Text;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;

namespace Metering.Ingest.Output;

/// <summary>
/// Writes aggregate rows as NDJSON, sorted by account, SKU, window and dimensions (ordinal string order;
/// docs/usage-records.md):
/// <c>{"account","sku","window_start","window_end","dimensions","count","quantity","min","max","first_time","last_time"}</c>.
/// Quantities are exact decimal strings.
/// </summary>
/// <remarks>
/// A month of usage flushes millions of rows, so this is built for it: every interned string is ranked and
/// JSON-encoded once (not per row and per comparison), rows are sorted by packed integer keys, and lines are
/// formatted straight into a large byte buffer that reaches the stream in big writes (a per-row
/// <see cref="Utf8JsonWriter.Flush"/> was one write system call per row). The bytes are the ones
/// <see cref="Utf8JsonWriter"/> writes with <see cref="JavaScriptEncoder.UnsafeRelaxedJsonEscaping"/>: strings are
/// encoded by it, numbers and times are plain ASCII digits.
/// </remarks>
public static class AggregateNdjsonWriter
{
    // Rows per formatted chunk (about 16 MiB of lines, written in one call) and the line length a buffer starts with.
    private const int ChunkRows = 65_536;
    private const int TypicalLineBytes = 256;

    // Worst case of the fixed part of one line: the names and punctuation (about 160 bytes), four times (28 each),
    // three quantities (48 each), a count (20); the strings are added per row.
    private const int FixedLineBytes = 512;

    private static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    /// <summary>Writes <paramref name="rows"/> to <paramref name="output"/>.</summary>
    public static void Write(Stream output, IEnumerable<AggregateRow> rows, RecordCatalog catalog, TumblingWindows windows)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(windows);
        var source = new RowSource(rows);
        var all = source.Span;
        if (all.IsEmpty)
        {
            return;
        }

        var accounts = new EncodedStrings(catalog.Accounts.Count, id => catalog.Accounts.GetString(id));
        var skus = new EncodedStrings(catalog.Skus.Count, id => catalog.Skus.GetString(id));
        var dimensions = new DimensionObjects(catalog);
        var windowTexts = new WindowTexts(all, windows);
        var keys = Order(all, accounts, skus, dimensions);

        // Formatting is most of the cost: two chunks at a time are formatted on two threads (this machine class has
        // two cores), then written in order, so the bytes are those of a single-threaded pass.
        var first = new ChunkBuffer(Math.Min(ChunkRows, keys.Length));
        var second = new ChunkBuffer(Math.Min(ChunkRows, keys.Length));
        for (var start = 0; start < keys.Length; start += 2 * ChunkRows)
        {
            var firstKeys = Chunk(keys, start);
            var secondKeys = Chunk(keys, start + ChunkRows);
            var other = secondKeys.Count == 0
                ? null
                : Task.Run(() => second.Format(secondKeys, source.Span, accounts, skus, dimensions, windowTexts));
            try
            {
                first.Format(firstKeys, all, accounts, skus, dimensions, windowTexts);
            }
            finally
            {
                other?.GetAwaiter().GetResult();
            }

            first.WriteTo(output);
            if (other is not null)
            {
                second.WriteTo(output);
            }
        }

        output.Flush();
    }

    private static ArraySegment<int> Chunk(int[] order, int start) =>
        start >= order.Length ? ArraySegment<int>.Empty : new ArraySegment<int>(order, start, Math.Min(ChunkRows, order.Length - start));

    /// <summary>The rows as given (a list or an array, not copied), readable as a span on any thread.</summary>
    private sealed class RowSource(IEnumerable<AggregateRow> rows)
    {
        private readonly List<AggregateRow>? _list = rows as List<AggregateRow>;
        private readonly AggregateRow[]? _array = rows as AggregateRow[] ?? (rows is List<AggregateRow> ? null : rows.ToArray());

        public ReadOnlySpan<AggregateRow> Span => _list is not null ? CollectionsMarshal.AsSpan(_list) : _array;
    }

    /// <summary>One chunk's lines, formatted into a reusable byte buffer.</summary>
    private sealed class ChunkBuffer(int rows)
    {
        private byte[] _bytes = new byte[rows * TypicalLineBytes];
        private int _used;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Format(ArraySegment<int> order, ReadOnlySpan<AggregateRow> rows, EncodedStrings accounts, EncodedStrings skus, DimensionObjects dimensions, WindowTexts windows)
        {
            _used = 0;
            foreach (var index in order.AsSpan())
            {
                ref readonly var r = ref rows[index];
                var account = accounts.Json(r.AccountId);
                var sku = skus.Json(r.SkuId);
                var dims = dimensions.Json(r.DimensionSetId);
                var need = FixedLineBytes + account.Length + sku.Length + dims.Length;
                if (_bytes.Length - _used < need)
                {
                    Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _used + need));
                }

                _used += WriteLine(_bytes.AsSpan(_used), in r, account, sku, dims, windows.Text(r.WindowIndex));
            }
        }

        public void WriteTo(Stream output) => output.Write(_bytes, 0, _used);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int WriteLine(Span<byte> dst, in AggregateRow r, ReadOnlySpan<byte> account, ReadOnlySpan<byte> sku, ReadOnlySpan<byte> dims, ReadOnlySpan<byte> window)
    {
        var pos = 0;
        Append(dst, ref pos, "{\"account\":"u8);
        Append(dst, ref pos, account);
        Append(dst, ref pos, ",\"sku\":"u8);
        Append(dst, ref pos, sku);
        Append(dst, ref pos, window);
        Append(dst, ref pos, ",\"dimensions\":"u8);
        Append(dst, ref pos, dims);
        Append(dst, ref pos, ",\"count\":"u8);
        Utf8Formatter.TryFormat(r.Count, dst[pos..], out var written);
        pos += written;
        Append(dst, ref pos, ",\"quantity\":\""u8);
        pos += FormatQuantity(r.SumNanos, dst[pos..]);
        Append(dst, ref pos, "\",\"min\":\""u8);
        pos += FormatQuantity(r.MinNanos, dst[pos..]);
        Append(dst, ref pos, "\",\"max\":\""u8);
        pos += FormatQuantity(r.MaxNanos, dst[pos..]);
        Append(dst, ref pos, "\",\"first_time\":\""u8);
        pos += FormatUtc(r.FirstTicks, dst[pos..]);
        Append(dst, ref pos, "\",\"last_time\":\""u8);
        pos += FormatUtc(r.LastTicks, dst[pos..]);
        Append(dst, ref pos, "\"}\n"u8);
        return pos;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Append(Span<byte> dst, ref int pos, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(dst[pos..]);
        pos += bytes.Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int FormatQuantity(Int128 nanos, Span<byte> dst)
    {
        if (nanos >= 0 && nanos <= long.MaxValue)
        {
            // Nearly every value: the digits FixedPoint.Format writes (whole units, then the fraction without
            // trailing zeros), without its 128-bit division.
            var (whole, frac) = Math.DivRem((ulong)nanos, (ulong)FixedPoint.NanosPerUnit);
            Utf8Formatter.TryFormat(whole, dst, out var pos);
            if (frac != 0)
            {
                dst[pos++] = (byte)'.';
                Utf8Formatter.TryFormat(frac, dst[pos..], out var digits, new StandardFormat('D', FixedPoint.Scale));
                pos += digits;
                while (dst[pos - 1] == (byte)'0')
                {
                    pos--; // no trailing zeros (frac != 0, so the point stays)
                }
            }

            return pos;
        }

        Span<char> chars = stackalloc char[48];
        var n = FixedPoint.Format(nanos, chars);
        for (var i = 0; i < n; i++)
        {
            dst[i] = (byte)chars[i]; // digits, '-' and '.': ASCII
        }

        return n;
    }

    /// <summary>RFC 3339 in UTC with a 'Z' and only the fractional digits needed (microsecond resolution at most).</summary>
    public static string Utc(long ticks)
    {
        Span<byte> bytes = stackalloc byte[28];
        var n = FormatUtc(ticks, bytes);
        return System.Text.Encoding.ASCII.GetString(bytes[..n]);
    }

    /// <summary>
    /// <paramref name="ticks"/> as <c>yyyy-MM-ddTHH:mm:ss[.fffffff]Z</c> in ASCII, the fraction without trailing zeros
    /// (and without the point when it is zero), like the format string <c>yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'</c>;
    /// returns the length (at most 28).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int FormatUtc(long ticks, Span<byte> dst)
    {
        var (year, month, day) = new DateTime(ticks, DateTimeKind.Utc); // throws for ticks out of range, as the format did
        var timeOfDay = ticks % TimeSpan.TicksPerDay;
        var seconds = timeOfDay / TimeSpan.TicksPerSecond;
        var fraction = (int)(timeOfDay % TimeSpan.TicksPerSecond);
        Digits(dst[..4], year);
        dst[4] = (byte)'-';
        Digits(dst.Slice(5, 2), month);
        dst[7] = (byte)'-';
        Digits(dst.Slice(8, 2), day);
        dst[10] = (byte)'T';
        Digits(dst.Slice(11, 2), (int)(seconds / 3600));
        dst[13] = (byte)':';
        Digits(dst.Slice(14, 2), (int)(seconds / 60 % 60));
        dst[16] = (byte)':';
        Digits(dst.Slice(17, 2), (int)(seconds % 60));
        var pos = 19;
        if (fraction != 0)
        {
            var digits = 7;
            while (fraction % 10 == 0)
            {
                fraction /= 10;
                digits--;
            }

            dst[pos++] = (byte)'.';
            Digits(dst.Slice(pos, digits), fraction);
            pos += digits;
        }

        dst[pos++] = (byte)'Z';
        return pos;
    }

    /// <summary>Writes <paramref name="value"/> zero-padded to the width of <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Digits(Span<byte> dst, int value)
    {
        for (var i = dst.Length - 1; i >= 0; i--)
        {
            dst[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }

    /// <summary>
    /// The order of <paramref name="rows"/> in the output: by the ranks of the account and SKU strings, the window and
    /// the rank of the dimension set's canonical string; the row's position breaks ties, as the stable string sort
    /// this replaces did (equal strings share a rank). Most outputs fit all five in one 64-bit integer, each in the
    /// bits its largest value needs (a month of 1,000 accounts, 8 SKUs and hours: 45 bits), and a sort of longs is a
    /// fraction of one of 20-byte keys compared field by field; wider ones are sorted by the two-word key.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int[] Order(ReadOnlySpan<AggregateRow> rows, EncodedStrings accounts, EncodedStrings skus, DimensionObjects dimensions)
    {
        uint firstWindow = uint.MaxValue, lastWindow = 0;
        int maxAccount = 0, maxSku = 0, maxDimensions = 0;
        foreach (ref readonly var r in rows)
        {
            firstWindow = Math.Min(firstWindow, r.WindowIndex);
            lastWindow = Math.Max(lastWindow, r.WindowIndex);
            maxAccount = Math.Max(maxAccount, accounts.Rank(r.AccountId));
            maxSku = Math.Max(maxSku, skus.Rank(r.SkuId));
            maxDimensions = Math.Max(maxDimensions, dimensions.Rank(r.DimensionSetId));
        }

        int skuBits = Bits((uint)maxSku), windowBits = Bits(lastWindow - firstWindow), dimensionBits = Bits((uint)maxDimensions), indexBits = Bits((uint)rows.Length - 1);
        var order = new int[rows.Length];
        if (Bits((uint)maxAccount) + skuBits + windowBits + dimensionBits + indexBits > 64)
        {
            var keys = new SortKey[rows.Length];
            for (var i = 0; i < rows.Length; i++)
            {
                ref readonly var r = ref rows[i];
                keys[i] = new SortKey(
                    ((ulong)(uint)accounts.Rank(r.AccountId) << 32) | (uint)skus.Rank(r.SkuId),
                    ((ulong)r.WindowIndex << 32) | (uint)dimensions.Rank(r.DimensionSetId),
                    i);
            }

            keys = SortInHalves(keys);
            for (var i = 0; i < keys.Length; i++)
            {
                order[i] = keys[i].Index;
            }

            return order;
        }

        var packed = new ulong[rows.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            ref readonly var r = ref rows[i];
            var key = (ulong)accounts.Rank(r.AccountId);
            key = (key << skuBits) | (uint)skus.Rank(r.SkuId);
            key = (key << windowBits) | (r.WindowIndex - firstWindow);
            key = (key << dimensionBits) | (uint)dimensions.Rank(r.DimensionSetId);
            packed[i] = (key << indexBits) | (uint)i;
        }

        packed = SortInHalves(packed);
        var indexMask = (1UL << indexBits) - 1;
        for (var i = 0; i < packed.Length; i++)
        {
            order[i] = (int)(packed[i] & indexMask);
        }

        return order;
    }

    private static int Bits(uint max) => 32 - BitOperations.LeadingZeroCount(max);

    /// <summary>
    /// Sorts unique keys: below two chunks in one call, above as two halves on two threads and one merge pass
    /// (the keys are unique, the index being part of each, so the order is the same as one sort's).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T[] SortInHalves<T>(T[] keys)
        where T : IComparable<T>
    {
        if (keys.Length < 2 * ChunkRows)
        {
            Array.Sort(keys);
            return keys;
        }

        var half = keys.Length / 2;
        var left = Task.Run(() => Array.Sort(keys, 0, half));
        Array.Sort(keys, half, keys.Length - half);
        left.GetAwaiter().GetResult();
        var merged = new T[keys.Length];
        int a = 0, b = half, m = 0;
        while (a < half && b < keys.Length)
        {
            merged[m++] = keys[a].CompareTo(keys[b]) <= 0 ? keys[a++] : keys[b++];
        }

        Array.Copy(keys, a, merged, m, half - a);
        m += half - a;
        Array.Copy(keys, b, merged, m, keys.Length - b);
        return merged;
    }

    private readonly record struct SortKey(ulong High, ulong Low, int Index) : IComparable<SortKey>
    {
        public int CompareTo(SortKey other)
        {
            var c = High.CompareTo(other.High);
            if (c != 0)
            {
                return c;
            }

            c = Low.CompareTo(other.Low);
            return c != 0 ? c : Index.CompareTo(other.Index);
        }
    }

    /// <summary>
    /// The <c>,"window_start":"...","window_end":"..."</c> part of each window's lines, formatted once per window (a
    /// month of hours is 744 windows for 1.3 M rows); past a million windows between the first and the last, each
    /// line formats its own.
    /// </summary>
    private sealed class WindowTexts
    {
        private const int MaxCached = 1 << 20;
        private readonly TumblingWindows _windows;
        private readonly uint _first;
        private readonly byte[]?[] _texts;

        public WindowTexts(ReadOnlySpan<AggregateRow> rows, TumblingWindows windows)
        {
            _windows = windows;
            uint first = uint.MaxValue, last = 0;
            foreach (ref readonly var r in rows)
            {
                first = Math.Min(first, r.WindowIndex);
                last = Math.Max(last, r.WindowIndex);
            }

            _first = first;
            _texts = rows.IsEmpty || last - first >= MaxCached ? [] : new byte[]?[last - first + 1];
        }

        // Two formatting threads may format the same window at once: both store equal bytes, either one wins.
        public ReadOnlySpan<byte> Text(uint windowIndex)
        {
            var i = windowIndex - _first;
            if (i >= (uint)_texts.Length)
            {
                return Format(windowIndex);
            }

            return _texts[i] ??= Format(windowIndex);
        }

        private byte[] Format(uint windowIndex)
        {
            Span<byte> bytes = stackalloc byte[128];
            var pos = 0;
            var start = _windows.StartTicks(windowIndex);
            Append(bytes, ref pos, ",\"window_start\":\""u8);
            pos += FormatUtc(start, bytes[pos..]);
            Append(bytes, ref pos, "\",\"window_end\":\""u8);
            pos += FormatUtc(start + _windows.LengthTicks, bytes[pos..]);
            Append(bytes, ref pos, "\""u8);
            return bytes[..pos].ToArray();
        }
    }

    /// <summary>Interned strings 1..count: their rank in ordinal order and their JSON encoding with quotes, each computed once.</summary>
    private sealed class EncodedStrings
    {
        private readonly Func<int, string> _text;
        private readonly int[] _rank;
        private readonly byte[]?[] _json;

        public EncodedStrings(int count, Func<int, string> text)
        {
            _text = text;
            _json = new byte[]?[count + 1];
            _rank = Ranks(count, text);
        }

        public int Rank(int id) => _rank[id];

        // Two formatting threads may encode the same string at once: both store equal bytes, either one wins.
        public ReadOnlySpan<byte> Json(int id) => _json[id] ??= EncodeString(_text(id));
    }

    /// <summary>The <c>{"key":"value",...}</c> object of each dimension set (<c>{}</c> for none) and its rank, each computed once.</summary>
    private sealed class DimensionObjects
    {
        private readonly RecordCatalog _catalog;
        private readonly int[] _rank;
        private readonly byte[]?[] _json;

        public DimensionObjects(RecordCatalog catalog)
        {
            _catalog = catalog;
            var count = catalog.DimensionSets.Count;
            _json = new byte[]?[count + 1];
            _rank = Ranks(count, id => id == 0 ? "" : catalog.DimensionSets.GetString(id), includeZero: true);
        }

        public int Rank(int id) => _rank[id];

        public ReadOnlySpan<byte> Json(int id) => _json[id] ??= EncodeDimensions(_catalog.DescribeDimensions(id));
    }

    /// <summary>Rank of each id (1..count, and 0 when <paramref name="includeZero"/>) in ordinal order of its string; equal strings share a rank.</summary>
    private static int[] Ranks(int count, Func<int, string> text, bool includeZero = false)
    {
        var first = includeZero ? 0 : 1;
        var ids = new int[count + 1 - first];
        var strings = new string[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = first + i;
            strings[i] = text(first + i);
        }

        Array.Sort(strings, ids, StringComparer.Ordinal);
        var rank = new int[count + 1];
        for (int i = 0, r = 0; i < ids.Length; i++)
        {
            if (i > 0 && !string.Equals(strings[i], strings[i - 1], StringComparison.Ordinal))
            {
                r++;
            }

            rank[ids[i]] = r;
        }

        return rank;
    }

    private static byte[] EncodeString(string value)
    {
        var buffer = new ArrayBufferWriter<byte>(value.Length + 8);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, Encoder = Encoder }))
        {
            json.WriteStringValue(value);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] EncodeDimensions(IReadOnlyList<KeyValuePair<string, string>> pairs)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, Encoder = Encoder }))
        {
            json.WriteStartObject();
            foreach (var (k, v) in pairs)
            {
                json.WriteString(k, v);
            }

            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
