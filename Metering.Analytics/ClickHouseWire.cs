using System.Text;
using System.Text.Json;

namespace Metering.Analytics;

/// <summary>What both transports share on the wire: parameter escaping and reading JSONCompact results.</summary>
internal static class ClickHouseWire
{
    /// <summary>The result format every query asks for.</summary>
    public const string ResultFormat = "JSONCompact";

    /// <summary>
    /// A query parameter's value as ClickHouse expects it: parsed like a TabSeparated field, so backslash, tab,
    /// newline and carriage return must be escaped (quotes need not be: the value is never SQL).
    /// </summary>
    public static string EscapeParameter(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.AsSpan().IndexOfAny("\\\t\n\r\0") < 0)
        {
            return value;
        }

        var sb = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => sb.Append(@"\\"),
                '\t' => sb.Append(@"\t"),
                '\n' => sb.Append(@"\n"),
                '\r' => sb.Append(@"\r"),
                '\0' => sb.Append(@"\0"),
                _ => sb.Append(c),
            };
        }

        return sb.ToString();
    }

    /// <summary>The <c>data</c> rows of a JSONCompact answer; numbers keep their exact text.</summary>
    public static IReadOnlyList<string?[]> ReadJsonCompact(ReadOnlySpan<byte> json)
    {
        if (json.IsEmpty)
        {
            return [];
        }

        using var doc = JsonDocument.Parse(json.ToArray());
        if (!doc.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
        {
            throw new ClickHouseException("ClickHouse answer has no 'data' array (expected FORMAT JSONCompact)");
        }

        var rows = new List<string?[]>(data.GetArrayLength());
        foreach (var row in data.EnumerateArray())
        {
            var values = new string?[row.GetArrayLength()];
            var i = 0;
            foreach (var cell in row.EnumerateArray())
            {
                values[i++] = cell.ValueKind switch
                {
                    JsonValueKind.Null => null,
                    JsonValueKind.String => cell.GetString(),
                    _ => cell.GetRawText(),
                };
            }

            rows.Add(values);
        }

        return rows;
    }
}
