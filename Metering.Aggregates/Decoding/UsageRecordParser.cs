using System.IO.Hashing;
using System.Text.Json;
using Metering.Aggregates.Dedup;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;

namespace Metering.Aggregates.Decoding;

/// <summary>
/// Parses one NDJSON line into a <see cref="UsageRecord"/> (see docs/usage-records.md for the contract).
/// Allocation-free for valid records: field values are read in place or unescaped into scratch buffers owned by
/// this instance, strings are interned to ids, and the idempotency key is hashed to a 128-bit fingerprint.
/// Not thread-safe: use one parser per decoding thread (they may share a <see cref="RecordCatalog"/>).
/// </summary>
public sealed class UsageRecordParser
{
    private const int FieldId = 1;
    private const int FieldAccount = 2;
    private const int FieldSku = 4;
    private const int FieldQuantity = 8;
    private const int FieldTime = 16;
    private const int FieldDimensions = 32;
    private const int Required = FieldId | FieldAccount | FieldSku | FieldQuantity | FieldTime;

    /// <summary>Earliest accepted event time: 2000-01-01T00:00:00Z (older times are almost surely clock bugs).</summary>
    public static readonly long EarliestTicks = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    private readonly RecordCatalog _catalog;
    private readonly DecoderOptions _options;
    private readonly byte[] _idScratch;
    private readonly byte[] _accountScratch;
    private readonly byte[] _skuScratch;
    private readonly byte[] _dimensionScratch;
    private readonly int[] _dimensionKeyStart;
    private readonly int[] _dimensionKeyLength;
    private readonly int[] _dimensionValueStart;
    private readonly int[] _dimensionValueLength;
    private readonly byte[] _setScratch;
    private byte[][]?[] _keptKeysBySku = new byte[][]?[64];
    private readonly long _futureSkewTicks;
    private long _latestAllowedTicks;

    // Where the last record's id and dimensions are, for a meter that needs them after the parse (LastId, TryGetLastDimension):
    // the id's offset in the line (-1: unescaped into _idScratch) and length; the pairs stay in _dimensionScratch.
    private int _lastIdOffset;
    private int _lastIdLength;
    private int _lastDimensionCount;
    private int _clockCountdown;

    /// <summary>Creates a parser over a shared catalog.</summary>
    public UsageRecordParser(RecordCatalog catalog, DecoderOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _catalog = catalog;
        _options = options;
        // Escaped JSON text is at most 6 bytes per unescaped byte ("\u00e9"), unescaped never longer than escaped.
        _idScratch = new byte[options.MaxIdentifierBytes];
        _accountScratch = new byte[options.MaxIdentifierBytes];
        _skuScratch = new byte[options.MaxIdentifierBytes];
        var pairBytes = options.MaxDimensionKeyBytes + options.MaxDimensionValueBytes;
        _dimensionScratch = new byte[Math.Max(1, options.MaxDimensions * pairBytes)];
        _dimensionKeyStart = new int[options.MaxDimensions + 1];
        _dimensionKeyLength = new int[options.MaxDimensions + 1];
        _dimensionValueStart = new int[options.MaxDimensions + 1];
        _dimensionValueLength = new int[options.MaxDimensions + 1];
        _setScratch = new byte[Math.Max(1, options.MaxDimensions * (pairBytes + 2))];
        _futureSkewTicks = options.MaxFutureSkew.Ticks;
    }

    /// <summary>
    /// Parses <paramref name="line"/> (no newline). Returns <see cref="RejectReason.None"/> and fills
    /// <paramref name="record"/> (except <see cref="UsageRecord.LineNumber"/>), or returns the reason and a detail
    /// naming the field. Ordinary bad input never throws.
    /// </summary>
    public RejectReason Parse(ReadOnlySpan<byte> line, out UsageRecord record, out string detail)
    {
        record = default;
        detail = "";
        if (!System.Text.Unicode.Utf8.IsValid(line))
        {
            detail = "the line is not valid UTF-8";
            return RejectReason.InvalidUtf8;
        }

        try
        {
            return ParseJson(line, ref record, ref detail);
        }
        catch (JsonException e)
        {
            // Utf8JsonReader reports syntax errors only by throwing; malformed JSON is the one reject that
            // costs an exception (cold: a few microseconds per bad record).
            detail = e.Message;
            return RejectReason.MalformedJson;
        }
        catch (InvalidOperationException e)
        {
            // CopyString on an escape that is not valid UTF-16 (a lone surrogate such as "\ud800").
            detail = e.Message;
            return RejectReason.MalformedJson;
        }
    }

    private RejectReason ParseJson(ReadOnlySpan<byte> line, ref UsageRecord record, scoped ref string detail)
    {
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 3 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            detail = "a record must be one JSON object";
            return RejectReason.MalformedJson;
        }

        var seen = 0;
        var dimensionCount = 0;
        ulong dimensionSum = 0;
        ReadOnlySpan<byte> id = default, account = default, sku = default;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = FieldOf(ref reader);
            reader.Read();
            if (field != 0)
            {
                if ((seen & field) != 0)
                {
                    detail = "duplicate field '" + FieldName(field) + "'";
                    return RejectReason.InvalidField;
                }

                seen |= field;
            }

            RejectReason reason;
            switch (field)
            {
                case FieldId:
                    reason = ReadIdentifier(ref reader, line, _idScratch, "id", out id, ref detail);
                    _lastIdOffset = reader.ValueIsEscaped ? -1 : (int)reader.TokenStartIndex + 1;
                    break;
                case FieldAccount:
                    reason = ReadIdentifier(ref reader, line, _accountScratch, "account", out account, ref detail);
                    break;
                case FieldSku:
                    reason = ReadIdentifier(ref reader, line, _skuScratch, "sku", out sku, ref detail);
                    break;
                case FieldQuantity:
                    reason = ReadQuantity(ref reader, out record.QuantityNanos, ref detail);
                    break;
                case FieldTime:
                    reason = ReadTime(ref reader, out record.TimeTicks, ref detail);
                    break;
                case FieldDimensions:
                    reason = ReadDimensions(ref reader, line, out dimensionCount, out dimensionSum, ref detail);
                    break;
                default:
                    // Unknown fields are ignored (forward compatibility), but must still be well-formed JSON.
                    reader.Skip();
                    reason = RejectReason.None;
                    break;
            }

            if (reason != RejectReason.None)
            {
                return reason;
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject)
        {
            detail = "a record must be one JSON object";
            return RejectReason.MalformedJson;
        }

        // Anything but whitespace after the object makes Read throw (single-value mode), which is malformed JSON.
        if (reader.Read())
        {
            detail = "content after the record's closing brace";
            return RejectReason.MalformedJson;
        }

        if ((seen & Required) != Required)
        {
            detail = "missing field '" + FieldName(Required & ~seen & -(Required & ~seen)) + "'";
            return RejectReason.MissingField;
        }

        if (record.TimeTicks < EarliestTicks)
        {
            detail = "time is before 2000-01-01T00:00:00Z";
            return RejectReason.InvalidTime;
        }

        if (record.TimeTicks > LatestAllowedTicks())
        {
            detail = "time is more than " + _options.MaxFutureSkew + " ahead of the clock";
            return RejectReason.FutureTime;
        }

        record.AccountId = _catalog.Accounts.GetOrAdd(account);
        record.SkuId = _catalog.Skus.GetOrAdd(sku);
        if (record.AccountId == 0 || record.SkuId == 0)
        {
            detail = record.AccountId == 0
                ? "more than " + _catalog.Accounts.MaxCount + " distinct accounts"
                : "more than " + _catalog.Skus.MaxCount + " distinct SKUs";
            return RejectReason.CardinalityLimit;
        }

        if (!_catalog.Dimensions.IsEmpty)
        {
            record.DimensionSetId = InternDimensions(record.SkuId, dimensionCount);
            if (record.DimensionSetId < 0)
            {
                detail = "more than " + _catalog.DimensionSets.MaxCount + " distinct dimension sets";
                return RejectReason.CardinalityLimit;
            }
        }

        // Tenant-scoped idempotency key: the account's hash seeds the id's 128-bit hash, so equal ids of
        // different accounts never collide by construction, and the value is the same in every process.
        record.Fingerprint = XxHash128.HashToUInt128(id, unchecked((long)XxHash3.HashToUInt64(account)));
        record.PayloadDigest = PayloadDigest.Of(sku, record.QuantityNanos, record.TimeTicks, dimensionCount, dimensionSum);
        _lastIdLength = id.Length;
        _lastDimensionCount = dimensionCount;
        return RejectReason.None;
    }

    /// <summary>
    /// The event id of the record the last <see cref="Parse"/> of <paramref name="line"/> accepted, as UTF-8 after JSON
    /// unescaping (what a latest meter breaks a tie on). Valid until the next <see cref="Parse"/>; pass the same line.
    /// </summary>
    public ReadOnlySpan<byte> LastId(ReadOnlySpan<byte> line) =>
        _lastIdOffset < 0 ? _idScratch.AsSpan(0, _lastIdLength) : line.Slice(_lastIdOffset, _lastIdLength);

    /// <summary>
    /// The value of dimension <paramref name="key"/> of the record the last <see cref="Parse"/> accepted, kept in the
    /// aggregate key or not (what a unique_count meter counts); false when the record has no such dimension. Valid until
    /// the next <see cref="Parse"/>.
    /// </summary>
    public bool TryGetLastDimension(ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value)
    {
        for (var d = 0; d < _lastDimensionCount; d++)
        {
            if (key.SequenceEqual(_dimensionScratch.AsSpan(_dimensionKeyStart[d], _dimensionKeyLength[d])))
            {
                value = _dimensionScratch.AsSpan(_dimensionValueStart[d], _dimensionValueLength[d]);
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>
    /// Reads the clock now. Callers call it once per chunk or batch (see <see cref="Admission.RecordAdmission.BeginChunk"/>),
    /// so a record is never judged against a clock older than its own chunk, however quiet the stream was before.
    /// </summary>
    public void RefreshClock()
    {
        _clockCountdown = ClockRefreshRecords;
        _latestAllowedTicks = _options.Clock.GetUtcNow().UtcTicks + _futureSkewTicks;
    }

    /// <summary>Within a long chunk the clock is re-read every this many records (per record is measurable).</summary>
    private const int ClockRefreshRecords = 1024;

    private long LatestAllowedTicks()
    {
        if (--_clockCountdown < 0)
        {
            RefreshClock();
        }

        return _latestAllowedTicks;
    }

    private static int FieldOf(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped)
        {
            return reader.ValueTextEquals("id"u8) ? FieldId
                : reader.ValueTextEquals("account"u8) ? FieldAccount
                : reader.ValueTextEquals("sku"u8) ? FieldSku
                : reader.ValueTextEquals("quantity"u8) ? FieldQuantity
                : reader.ValueTextEquals("time"u8) ? FieldTime
                : reader.ValueTextEquals("dimensions"u8) ? FieldDimensions
                : 0;
        }

        var name = reader.ValueSpan;
        return name.Length switch
        {
            2 when name.SequenceEqual("id"u8) => FieldId,
            3 when name.SequenceEqual("sku"u8) => FieldSku,
            4 when name.SequenceEqual("time"u8) => FieldTime,
            7 when name.SequenceEqual("account"u8) => FieldAccount,
            8 when name.SequenceEqual("quantity"u8) => FieldQuantity,
            10 when name.SequenceEqual("dimensions"u8) => FieldDimensions,
            _ => 0,
        };
    }

    private static string FieldName(int field) => field switch
    {
        FieldId => "id",
        FieldAccount => "account",
        FieldSku => "sku",
        FieldQuantity => "quantity",
        FieldTime => "time",
        _ => "dimensions",
    };

    private RejectReason ReadIdentifier(scoped ref Utf8JsonReader reader, ReadOnlySpan<byte> line, byte[] scratch, string name, out ReadOnlySpan<byte> value, scoped ref string detail)
    {
        value = default;
        if (reader.TokenType != JsonTokenType.String)
        {
            detail = name + " must be a string";
            return RejectReason.InvalidField;
        }

        if (!ReadString(ref reader, line, scratch, out value))
        {
            detail = name + " is longer than " + _options.MaxIdentifierBytes + " bytes";
            return RejectReason.InvalidIdentifier;
        }

        if (value.IsEmpty)
        {
            detail = name + " is empty";
            return RejectReason.InvalidIdentifier;
        }

        if (IdentifierRules.Check(value) is { } why)
        {
            detail = name + " " + why;
            return RejectReason.InvalidIdentifier;
        }

        return RejectReason.None;
    }

    /// <summary>Reads the current string token in place, or unescaped into scratch; false when it does not fit.</summary>
    private static bool ReadString(scoped ref Utf8JsonReader reader, ReadOnlySpan<byte> line, Span<byte> scratch, out ReadOnlySpan<byte> value)
    {
        if (!reader.ValueIsEscaped)
        {
            // In place: the token's bytes inside the line (after its opening quote).
            value = line.Slice((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length);
            return value.Length <= scratch.Length;
        }

        value = default;
        // Unescaped length <= escaped length, so a short escaped value always fits; a long one may still fit.
        if (reader.ValueSpan.Length > scratch.Length && reader.ValueSpan.Length > scratch.Length * 6)
        {
            return false;
        }

        if (reader.ValueSpan.Length <= scratch.Length)
        {
            var n = reader.CopyString(scratch);
            value = scratch[..n];
            return true;
        }

        var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(reader.ValueSpan.Length);
        try
        {
            var n = reader.CopyString(rented);
            if (n > scratch.Length)
            {
                return false;
            }

            rented.AsSpan(0, n).CopyTo(scratch);
            value = scratch[..n];
            return true;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static RejectReason ReadQuantity(scoped ref Utf8JsonReader reader, out long nanos, scoped ref string detail)
    {
        nanos = 0;
        Span<byte> scratch = stackalloc byte[ShortStringBytes];
        scoped ReadOnlySpan<byte> text;
        if (reader.TokenType == JsonTokenType.Number)
        {
            text = reader.ValueSpan;
        }
        else if (reader.TokenType == JsonTokenType.String && ShortString(ref reader, scratch, out var written))
        {
            text = written < 0 ? reader.ValueSpan : scratch[..written];
        }
        else
        {
            detail = "quantity must be a JSON number or a decimal string";
            return RejectReason.InvalidQuantity;
        }

        switch (FixedPoint.TryParse(text, out nanos))
        {
            case FixedPoint.ParseStatus.Ok:
                return RejectReason.None;
            case FixedPoint.ParseStatus.Negative:
                detail = "quantity must be >= 0";
                return RejectReason.NegativeQuantity;
            case FixedPoint.ParseStatus.TooPrecise:
                detail = "quantity has more than 9 fractional digits";
                return RejectReason.QuantityPrecision;
            case FixedPoint.ParseStatus.TooLarge:
                detail = "quantity exceeds 9223372036.854775807 per record";
                return RejectReason.QuantityTooLarge;
            default:
                detail = "quantity is not a decimal number";
                return RejectReason.InvalidQuantity;
        }
    }

    /// <summary>Longest quantity or time string accepted once unescaped.</summary>
    private const int ShortStringBytes = 256;

    /// <summary>
    /// For short string values (quantity, time): written = -1 when the token can be read in place, or the
    /// unescaped length in <paramref name="scratch"/> (a writer may legally escape '+' as \u002B); false when too long.
    /// </summary>
    private static bool ShortString(scoped ref Utf8JsonReader reader, scoped Span<byte> scratch, out int written)
    {
        written = -1;
        if (!reader.ValueIsEscaped)
        {
            return true;
        }

        // Unescaped text is never longer than escaped text, so an escaped value that fits cannot overflow.
        if (reader.ValueSpan.Length > scratch.Length)
        {
            return false;
        }

        written = reader.CopyString(scratch);
        return true;
    }

    private static RejectReason ReadTime(scoped ref Utf8JsonReader reader, out long ticks, scoped ref string detail)
    {
        ticks = 0;
        Span<byte> scratch = stackalloc byte[ShortStringBytes];
        if (reader.TokenType != JsonTokenType.String || !ShortString(ref reader, scratch, out var written) ||
            !Rfc3339.TryParseUtcTicks(written < 0 ? reader.ValueSpan : scratch[..written], out ticks))
        {
            detail = "time must be an RFC 3339 timestamp such as 2026-11-24T10:00:00.123Z";
            return RejectReason.InvalidTime;
        }

        return RejectReason.None;
    }

    private RejectReason ReadDimensions(scoped ref Utf8JsonReader reader, ReadOnlySpan<byte> line, out int count, out ulong digestSum, scoped ref string detail)
    {
        count = 0;
        digestSum = 0;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return RejectReason.None;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            detail = "dimensions must be an object of strings";
            return RejectReason.InvalidDimensions;
        }

        var used = 0;
        var keyLimit = _options.MaxDimensionKeyBytes;
        var valueLimit = _options.MaxDimensionValueBytes;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (count == _options.MaxDimensions)
            {
                detail = "more than " + _options.MaxDimensions + " dimensions";
                return RejectReason.TooManyDimensions;
            }

            if (!ReadString(ref reader, line, _dimensionScratch.AsSpan(used, keyLimit), out var key) || key.IsEmpty)
            {
                detail = "a dimension key is empty or longer than " + keyLimit + " bytes";
                return RejectReason.InvalidDimensions;
            }

            if (key.IndexOf((byte)'=') >= 0)
            {
                detail = "a dimension key contains '='";
                return RejectReason.InvalidDimensions;
            }

            if (IdentifierRules.CheckText(key) is { } keyWhy)
            {
                detail = "a dimension key " + keyWhy;
                return RejectReason.InvalidDimensions;
            }

            for (var d = 0; d < count; d++)
            {
                if (key.SequenceEqual(_dimensionScratch.AsSpan(_dimensionKeyStart[d], _dimensionKeyLength[d])))
                {
                    detail = "dimension key '" + System.Text.Encoding.UTF8.GetString(key) + "' appears twice";
                    return RejectReason.InvalidDimensions;
                }
            }

            StorePair(ref used, key, _dimensionKeyStart, _dimensionKeyLength, count);
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
            {
                detail = "dimension values must be strings";
                return RejectReason.InvalidDimensions;
            }

            if (!ReadString(ref reader, line, _dimensionScratch.AsSpan(used, valueLimit), out var value))
            {
                detail = "a dimension value is longer than " + valueLimit + " bytes";
                return RejectReason.InvalidDimensions;
            }

            if (IdentifierRules.CheckText(value) is { } valueWhy)
            {
                detail = "a dimension value " + valueWhy;
                return RejectReason.InvalidDimensions;
            }

            StorePair(ref used, value, _dimensionValueStart, _dimensionValueLength, count);
            // Every dimension, kept or not: the digest must not depend on the dimension policy (the edge keeps none).
            digestSum += PayloadDigest.Pair(_dimensionScratch.AsSpan(_dimensionKeyStart[count], _dimensionKeyLength[count]), _dimensionScratch.AsSpan(_dimensionValueStart[count], _dimensionValueLength[count]));
            count++;
        }

        return RejectReason.None;
    }

    /// <summary>Records where a key or value lives in the scratch buffer (copying it there if it was read in place).</summary>
    private void StorePair(ref int used, ReadOnlySpan<byte> bytes, int[] starts, int[] lengths, int index)
    {
        var target = _dimensionScratch.AsSpan(used, bytes.Length);
        if (!bytes.Overlaps(target))
        {
            bytes.CopyTo(target);
        }

        starts[index] = used;
        lengths[index] = bytes.Length;
        used += bytes.Length;
    }

    /// <summary>Builds the canonical kept-dimension set of the record and interns it; 0 = none kept, -1 = limit.</summary>
    private int InternDimensions(int skuId, int count)
    {
        var kept = KeptKeys(skuId);
        if (kept.Length == 0)
        {
            return 0;
        }

        var length = 0;
        var any = false;
        foreach (var key in kept)
        {
            for (var d = 0; d < count; d++)
            {
                var k = _dimensionScratch.AsSpan(_dimensionKeyStart[d], _dimensionKeyLength[d]);
                if (!k.SequenceEqual(key))
                {
                    continue;
                }

                if (any)
                {
                    _setScratch[length++] = 0x1F;
                }

                key.CopyTo(_setScratch.AsSpan(length));
                length += key.Length;
                _setScratch[length++] = (byte)'=';
                _dimensionScratch.AsSpan(_dimensionValueStart[d], _dimensionValueLength[d]).CopyTo(_setScratch.AsSpan(length));
                length += _dimensionValueLength[d];
                any = true;
                break;
            }
        }

        if (!any)
        {
            return 0;
        }

        var id = _catalog.DimensionSets.GetOrAdd(_setScratch.AsSpan(0, length));
        return id == 0 ? -1 : id;
    }

    private byte[][] KeptKeys(int skuId)
    {
        if (skuId >= _keptKeysBySku.Length)
        {
            Array.Resize(ref _keptKeysBySku, Math.Max(skuId + 1, _keptKeysBySku.Length * 2));
        }

        return _keptKeysBySku[skuId] ??= _catalog.Dimensions.KeptKeys(_catalog.Skus.GetString(skuId));
    }
}
