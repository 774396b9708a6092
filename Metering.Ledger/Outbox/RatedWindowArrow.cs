using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Compression;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;

namespace Metering.Ledger.Outbox;

/// <summary>
/// The Arrow form of rated windows: the outbox blobs the flush writes (<see cref="RatedWindowBlobOutbox"/>) and the
/// batches the exporter inserts into ClickHouse are both Arrow IPC streams of this schema, in the column order of
/// ClickHouse <c>usage_windows</c>. Decimals are Decimal128(38, 9), exactly ClickHouse's Decimal(38, 9) and
/// PostgreSQL's numeric(38, 9); times are UTC millisecond timestamps; no floating point anywhere.
/// </summary>
public static class RatedWindowArrow
{
    private static readonly Decimal128Type Money = new(38, 9);
    private static readonly TimestampType Utc = new(TimeUnit.Millisecond, "UTC");

    /// <summary>Decompresses the lz4-compressed buffers of a blob (stateless, shared).</summary>
    internal static readonly CompressionCodecFactory Codecs = new();

    /// <summary>The Arrow schema of a batch.</summary>
    public static Schema Schema { get; } = new Schema.Builder()
        .Field(f => f.Name("id").DataType(UInt64Type.Default).Nullable(false))
        .Field(f => f.Name("account").DataType(StringType.Default).Nullable(false))
        .Field(f => f.Name("sku").DataType(StringType.Default).Nullable(false))
        .Field(f => f.Name("window_start").DataType(Utc).Nullable(false))
        .Field(f => f.Name("window_end").DataType(Utc).Nullable(false))
        .Field(f => f.Name("dimensions").DataType(StringType.Default).Nullable(false))
        .Field(f => f.Name("quantity").DataType(Money).Nullable(false))
        .Field(f => f.Name("record_count").DataType(UInt64Type.Default).Nullable(false))
        .Field(f => f.Name("amount").DataType(Money).Nullable(false))
        .Field(f => f.Name("currency").DataType(StringType.Default).Nullable(false))
        .Field(f => f.Name("price_book_hash").DataType(StringType.Default).Nullable(false))
        .Field(f => f.Name("period_start").DataType(Utc).Nullable(false))
        .Build();

    /// <summary>The rows as an Arrow IPC stream (one record batch); <paramref name="compress"/> lz4-compresses its buffers.</summary>
    public static byte[] Encode(IReadOnlyList<RatedWindowRow> rows, bool compress = false)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var builder = new Builder(rows.Count);
        foreach (var r in rows)
        {
            builder.Append(r.Id, r.Account, r.Sku, r.WindowStart, r.WindowEnd, r.Dimensions, r.Quantity, r.RecordCount, r.Amount, r.Currency, r.PriceBookHash, r.PeriodStart);
        }

        return builder.Encode(compress);
    }

    /// <summary>Every row of an Arrow IPC stream of this schema (compressed or not), in stream order.</summary>
    public static List<RatedWindowRow> Decode(ReadOnlyMemory<byte> stream)
    {
        var rows = new List<RatedWindowRow>();
        using var reader = new ArrowStreamReader(stream, Codecs);
        while (reader.ReadNextRecordBatch() is { } batch)
        {
            using (batch)
            {
                if (!batch.Schema.FieldsList.Select(f => f.Name).SequenceEqual(Schema.FieldsList.Select(f => f.Name), StringComparer.Ordinal))
                {
                    throw new InvalidDataException($"rated-window Arrow batch with columns ({string.Join(", ", batch.Schema.FieldsList.Select(f => f.Name))}), expected ({string.Join(", ", Schema.FieldsList.Select(f => f.Name))})");
                }

                var id = (UInt64Array)batch.Column(0);
                var account = (StringArray)batch.Column(1);
                var sku = (StringArray)batch.Column(2);
                var start = (TimestampArray)batch.Column(3);
                var end = (TimestampArray)batch.Column(4);
                var dimensions = (StringArray)batch.Column(5);
                var quantity = (Decimal128Array)batch.Column(6);
                var count = (UInt64Array)batch.Column(7);
                var amount = (Decimal128Array)batch.Column(8);
                var currency = (StringArray)batch.Column(9);
                var hash = (StringArray)batch.Column(10);
                var period = (TimestampArray)batch.Column(11);
                for (var i = 0; i < batch.Length; i++)
                {
                    rows.Add(new RatedWindowRow(
                        checked((long)id.GetValue(i)!.Value), account.GetString(i), sku.GetString(i), start.GetTimestamp(i)!.Value, end.GetTimestamp(i)!.Value,
                        dimensions.GetString(i), quantity.GetValue(i)!.Value, checked((long)count.GetValue(i)!.Value), amount.GetValue(i)!.Value,
                        currency.GetString(i), hash.GetString(i), period.GetTimestamp(i)!.Value));
                }
            }
        }

        return rows;
    }

    /// <summary>
    /// Encodes one compressed row and throws it away: the first flush of a process otherwise pays the JIT of the IPC
    /// writer and the lz4 codec inside its transaction (150-250 ms measured on the main job). Thread-safe.
    /// </summary>
    public static void WarmUp()
    {
        var builder = new Builder(1);
        builder.Append(1, "a", "s", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, "{}", 1, 1, 1, "XXX", "h", DateTimeOffset.UnixEpoch);
        _ = builder.Encode(compress: true);
    }

    /// <summary>
    /// Collects rated windows column by column, straight into Arrow's little-endian buffer layout, and encodes them as
    /// one Arrow IPC stream; also sums their amounts per currency (exactly, for the ledger's money conservation). The
    /// flush runs this per window inside its transaction: Apache.Arrow's builders cost ~0.3 us per decimal and run as
    /// unoptimized JIT code for the first flushes of a process, so the columns are written here. Not thread-safe.
    /// </summary>
    public sealed class Builder(int capacity)
    {
        private readonly Column _id = new(capacity * 8);
        private readonly StringColumn _account = new(capacity);
        private readonly StringColumn _sku = new(capacity);
        private readonly Column _windowStart = new(capacity * 8);
        private readonly Column _windowEnd = new(capacity * 8);
        private readonly StringColumn _dimensions = new(capacity);
        private readonly Column _quantity = new(capacity * 16);
        private readonly Column _count = new(capacity * 8);
        private readonly Column _amount = new(capacity * 16);
        private readonly StringColumn _currency = new(capacity);
        private readonly StringColumn _hash = new(capacity);
        private readonly Column _period = new(capacity * 8);
        private readonly Dictionary<string, decimal> _amounts = new(StringComparer.Ordinal);

        /// <summary>Rows appended so far.</summary>
        public int Count { get; private set; }

        /// <summary>The appended amounts summed per currency, in ordinal currency order.</summary>
        public IReadOnlyList<KeyValuePair<string, decimal>> AmountsByCurrency => [.. _amounts.OrderBy(a => a.Key, StringComparer.Ordinal)];

        /// <summary>
        /// Appends one rated window; <paramref name="id"/> is its outbox row id (the ClickHouse dedup key). Quantity and
        /// amount are stored at scale 9 as numeric(38, 9) stores them (more digits round half away from zero, as
        /// PostgreSQL rounds); every decimal fits Decimal128(38, 9), whose integer part holds 29 digits.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Append(long id, string account, string sku, DateTimeOffset windowStart, DateTimeOffset windowEnd, string dimensions,
            decimal quantity, long recordCount, decimal amount, string currency, string priceBookHash, DateTimeOffset periodStart)
        {
            ArgumentNullException.ThrowIfNull(currency);
            var stored = decimal.Round(amount, 9, MidpointRounding.AwayFromZero);
            BinaryPrimitives.WriteUInt64LittleEndian(_id.Grow(8), checked((ulong)id));
            _account.Append(account);
            _sku.Append(sku);
            BinaryPrimitives.WriteInt64LittleEndian(_windowStart.Grow(8), windowStart.ToUnixTimeMilliseconds());
            BinaryPrimitives.WriteInt64LittleEndian(_windowEnd.Grow(8), windowEnd.ToUnixTimeMilliseconds());
            _dimensions.Append(dimensions);
            BinaryPrimitives.WriteInt128LittleEndian(_quantity.Grow(16), Scaled(quantity));
            BinaryPrimitives.WriteUInt64LittleEndian(_count.Grow(8), checked((ulong)recordCount));
            BinaryPrimitives.WriteInt128LittleEndian(_amount.Grow(16), Scaled(stored));
            _currency.Append(currency);
            _hash.Append(priceBookHash);
            BinaryPrimitives.WriteInt64LittleEndian(_period.Grow(8), periodStart.ToUnixTimeMilliseconds());
            ref var sum = ref CollectionsMarshal.GetValueRefOrAddDefault(_amounts, currency, out _);
            sum += stored;
            Count++;
        }

        /// <summary>The rows as an Arrow IPC stream: the schema, one record batch, the end marker.</summary>
        public byte[] Encode(bool compress)
        {
            IArrowArray[] columns =
            [
                _id.Build(UInt64Type.Default, Count), _account.Build(Count), _sku.Build(Count), _windowStart.Build(Utc, Count), _windowEnd.Build(Utc, Count),
                _dimensions.Build(Count), _quantity.Build(Money, Count), _count.Build(UInt64Type.Default, Count), _amount.Build(Money, Count),
                _currency.Build(Count), _hash.Build(Count), _period.Build(Utc, Count),
            ];
            using var batch = new RecordBatch(Schema, columns, Count);
            using var buffer = new MemoryStream();
            // lz4 frames: ClickHouse's Arrow reader decompresses them, and lz4 costs the flush a fraction of what the
            // bytes would cost PostgreSQL's WAL uncompressed (about 3x fewer on the main job's windows).
            var options = compress ? new IpcOptions { CompressionCodecFactory = Codecs, CompressionCodec = CompressionCodecType.Lz4Frame } : new IpcOptions();
            using (var writer = new ArrowStreamWriter(buffer, Schema, leaveOpen: true, options))
            {
                writer.WriteRecordBatch(batch);
                writer.WriteEnd();
            }

            return buffer.ToArray();
        }

        /// <summary>The decimal as Decimal128(38, 9)'s integer: its 96-bit mantissa moved to scale 9 (at most 2^96 x 10^9 &lt; 10^38).</summary>
        private static Int128 Scaled(decimal value)
        {
            value = decimal.Round(value, 9, MidpointRounding.AwayFromZero);
            Span<int> bits = stackalloc int[4];
            _ = decimal.GetBits(value, bits);
            var mantissa = ((UInt128)(uint)bits[2] << 64) | ((UInt128)(uint)bits[1] << 32) | (uint)bits[0];
            var scale = (bits[3] >> 16) & 0xFF;
            var scaled = (Int128)(mantissa * Pow10[9 - scale]);
            return bits[3] < 0 ? -scaled : scaled;
        }

        private static readonly UInt128[] Pow10 = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];
    }

    /// <summary>A fixed-width column's values, little-endian, growing like a list.</summary>
    private sealed class Column(int bytes)
    {
        private byte[] _data = new byte[Math.Max(bytes, 16)];

        public int Length { get; private set; }

        public Span<byte> Grow(int bytes)
        {
            if (Length + bytes > _data.Length)
            {
                System.Array.Resize(ref _data, Math.Max(_data.Length * 2, Length + bytes));
            }

            var span = _data.AsSpan(Length, bytes);
            Length += bytes;
            return span;
        }

        /// <summary>Gives back the unused end of the last <see cref="Grow"/> (a string's UTF-8 is shorter than its bound).</summary>
        public void Shrink(int bytes) => Length -= bytes;

        public ReadOnlyMemory<byte> Memory => _data.AsMemory(0, Length);

        public IArrowArray Build(IArrowType type, int count) =>
            ArrowArrayFactory.BuildArray(new ArrayData(type, count, 0, 0, [ArrowBuffer.Empty, new ArrowBuffer(Memory)]));
    }

    /// <summary>A UTF-8 string column: int32 offsets (one more than the values) and the bytes.</summary>
    private sealed class StringColumn
    {
        private readonly Column _offsets;
        private readonly Column _bytes;

        public StringColumn(int capacity)
        {
            _offsets = new Column((capacity + 1) * 4);
            _bytes = new Column(capacity * 8);
            BinaryPrimitives.WriteInt32LittleEndian(_offsets.Grow(4), 0);
        }

        public void Append(string value)
        {
            ArgumentNullException.ThrowIfNull(value);
            var written = Encoding.UTF8.GetBytes(value, _bytes.Grow(Encoding.UTF8.GetMaxByteCount(value.Length)));
            _bytes.Shrink(Encoding.UTF8.GetMaxByteCount(value.Length) - written);
            BinaryPrimitives.WriteInt32LittleEndian(_offsets.Grow(4), _bytes.Length);
        }

        public IArrowArray Build(int count) =>
            ArrowArrayFactory.BuildArray(new ArrayData(StringType.Default, count, 0, 0, [ArrowBuffer.Empty, new ArrowBuffer(_offsets.Memory), new ArrowBuffer(_bytes.Memory)]));
    }
}
