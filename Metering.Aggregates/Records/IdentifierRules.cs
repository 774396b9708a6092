namespace Metering.Aggregates.Records;

/// <summary>
/// What an <c>id</c>, <c>account</c> or <c>sku</c> may contain beyond its length limit: only values every store
/// and every address of the product can hold and give back unchanged. A value that passes is stored as PostgreSQL
/// <c>text</c> and <c>jsonb</c>, ClickHouse <c>String</c>, a Redis key and a Kafka key, and addressed as one URL path
/// segment of the REST API (<c>/v1/accounts/{account}/...</c>), percent-encoded. Refused:
/// <list type="bullet">
/// <item>control characters U+0000-U+001F, U+007F and U+0080-U+009F (PostgreSQL refuses U+0000 outright; the
/// others corrupt logs, CSV exports and terminals);</item>
/// <item>the noncharacters U+FFFE and U+FFFF;</item>
/// <item><c>/</c> and <c>\</c> (ASP.NET Core keeps an encoded <c>%2F</c> undecoded in a route value, so such an
/// account could be ingested but never read back), and the whole values <c>.</c> and <c>..</c> (path
/// normalisation removes them);</item>
/// <item>leading or trailing white space (U+0020, U+00A0, U+3000 and the other Unicode spaces), which makes two
/// accounts that look the same.</item>
/// </list>
/// The rule is checked on the UTF-8 bytes after JSON unescaping, so <c>"\u0000"</c> and a raw byte are the same.
/// </summary>
public static class IdentifierRules
{
    /// <summary>Returns null when <paramref name="utf8"/> (valid UTF-8, non-empty) is acceptable, else why not.</summary>
    public static string? Check(ReadOnlySpan<byte> utf8)
    {
        // Fast path: printable ASCII other than '/' and '\' and not starting/ending with a space is the common case.
        var i = utf8.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7E);
        if (i < 0)
        {
            if (utf8.IndexOfAny((byte)'/', (byte)'\\') is var slash and >= 0)
            {
                return utf8[slash] == '/' ? "contains '/'" : "contains '\\'";
            }

            if (utf8[0] == ' ' || utf8[^1] == ' ')
            {
                return "starts or ends with white space";
            }

            return utf8.Length <= 2 && utf8.IndexOfAnyExcept((byte)'.') < 0 ? "is '.' or '..'" : null;
        }

        return CheckSlow(utf8);
    }

    /// <summary>
    /// The weaker rule for dimension keys and values (stored in <c>jsonb</c>, never addressed by path): null when
    /// <paramref name="utf8"/> has no control character or noncharacter, else why not.
    /// </summary>
    public static string? CheckText(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7E) < 0)
        {
            return null;
        }

        while (!utf8.IsEmpty)
        {
            if (System.Text.Rune.DecodeFromUtf8(utf8, out var rune, out var consumed) != System.Buffers.OperationStatus.Done)
            {
                return "is not valid UTF-8";
            }

            if (Forbidden(rune.Value) is { } why)
            {
                return why;
            }

            utf8 = utf8[consumed..];
        }

        return null;
    }

    private static string? Forbidden(int value)
    {
        if (value < 0x20 || value is >= 0x7F and <= 0x9F)
        {
            return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"contains the control character U+{value:X4}");
        }

        return value is 0xFFFE or 0xFFFF
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"contains the noncharacter U+{value:X4}")
            : null;
    }

    private static string? CheckSlow(ReadOnlySpan<byte> utf8)
    {
        var first = true;
        var lastIsSpace = false;
        while (!utf8.IsEmpty)
        {
            if (System.Text.Rune.DecodeFromUtf8(utf8, out var rune, out var consumed) != System.Buffers.OperationStatus.Done)
            {
                return "is not valid UTF-8";
            }

            var value = rune.Value;
            if (Forbidden(value) is { } why)
            {
                return why;
            }

            if (value is '/' or '\\')
            {
                return value == '/' ? "contains '/'" : "contains '\\'";
            }

            var space = System.Text.Rune.IsWhiteSpace(rune);
            if (first && space)
            {
                return "starts or ends with white space";
            }

            first = false;
            lastIsSpace = space;
            utf8 = utf8[consumed..];
        }

        return lastIsSpace ? "starts or ends with white space" : null;
    }
}
