using System.Text;

namespace Metering.Rating.PriceBooks;

/// <summary>Turns a byte offset in UTF-8 JSON into the 1-based line and column (in characters) an editor shows.</summary>
internal static class JsonPosition
{
    public static (long Line, long Column) Of(ReadOnlySpan<byte> json, long offset)
    {
        offset = Math.Clamp(offset, 0, json.Length);
        var before = json[..(int)offset];
        var lineStart = before.LastIndexOf((byte)'\n') + 1;
        long line = before.Count((byte)'\n') + 1;
        return (line, Encoding.UTF8.GetCharCount(before[lineStart..]) + 1);
    }

    /// <summary>The byte offset of a 0-based line and byte position in it, as <see cref="System.Text.Json.JsonException"/> reports them.</summary>
    public static long OffsetOf(ReadOnlySpan<byte> json, long line, long bytePositionInLine)
    {
        var offset = 0;
        for (var l = 0L; l < line; l++)
        {
            var next = json[offset..].IndexOf((byte)'\n');
            if (next < 0)
            {
                return json.Length;
            }

            offset += next + 1;
        }

        return Math.Min(json.Length, offset + bytePositionInLine);
    }
}
