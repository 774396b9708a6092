using System.Text;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Interning;
using Metering.Ledger.Outbox;
using Metering.Rating.PeriodTotals;
using Npgsql;

namespace Metering.Ledger.Flush;

/// <summary>
/// The rated windows of a flush into the outbox the analytics exporter moves to ClickHouse: a few compressed Arrow IPC
/// blobs (<see cref="RatedWindowBlobOutbox"/>) instead of a row per window, in rating order, inside the flush
/// transaction (a ~75k-window flush writes one blob row instead of 75k rows and their index entries).
/// </summary>
internal static class RatedWindowWriter
{
    /// <summary>
    /// Writes one rated window per charge of <paramref name="result"/>: the window of <paramref name="windows"/> it rates, with the
    /// dimensions of the aggregate row of the same position in <paramref name="rows"/> (named by <paramref name="names"/>).
    /// </summary>
    public static Task WriteAsync(NpgsqlConnection connection, IReadOnlyList<AggregateRow> rows, IReadOnlyList<UsageWindow> windows, RecordCatalog names, PeriodTotalsResult result, CancellationToken cancellationToken)
    {
        var charges = result.Windows;
        var dimensions = new Dictionary<int, string>();
        return RatedWindowBlobOutbox.WriteAsync(connection, charges.Count, (blob, id, i) =>
        {
            var charge = charges[i];
            var window = windows[charge.Window];
            var set = rows[charge.Window].DimensionSetId;
            if (!dimensions.TryGetValue(set, out var json))
            {
                dimensions[set] = json = DimensionsJson(names, set);
            }

            blob.Append(id, window.Account, window.Sku, window.Start, window.End, json, window.Quantity, window.Count,
                charge.Amount, charge.Currency, charge.PriceBookHash, charge.PeriodStart);
        }, cancellationToken);
    }

    private static string DimensionsJson(RecordCatalog names, int dimensionSetId) =>
        dimensionSetId == 0 ? "{}" : JsonbText(names.DescribeDimensions(dimensionSetId));

    /// <summary>
    /// Dimension pairs as PostgreSQL prints a jsonb object (what the row outbox's <c>dimensions::text</c> gave
    /// ClickHouse before the blobs, so the column's text does not change with the upgrade): keys shorter first, then
    /// by their UTF-8 bytes; <c>"key": "value"</c> pairs separated by <c>", "</c>. Keys are distinct (a dimension set).
    /// </summary>
    internal static string JsonbText(IReadOnlyList<KeyValuePair<string, string>> dimensions)
    {
        var pairs = dimensions.ToArray();
        Array.Sort(pairs, static (a, b) =>
        {
            var (x, y) = (Encoding.UTF8.GetByteCount(a.Key), Encoding.UTF8.GetByteCount(b.Key));
            return x != y ? x.CompareTo(y) : Encoding.UTF8.GetBytes(a.Key).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b.Key));
        });
        var text = new StringBuilder("{");
        for (var i = 0; i < pairs.Length; i++)
        {
            text.Append(i == 0 ? "" : ", ");
            JsonString(text, pairs[i].Key);
            text.Append(": ");
            JsonString(text, pairs[i].Value);
        }

        return text.Append('}').ToString();
    }

    /// <summary>A JSON string as jsonb's output escapes it: quote, backslash and the C0 controls; everything else as is.</summary>
    private static void JsonString(StringBuilder text, string value)
    {
        text.Append('"');
        foreach (var c in value)
        {
            _ = c switch
            {
                '"' => text.Append("\\\""),
                '\\' => text.Append("\\\\"),
                '\b' => text.Append("\\b"),
                '\f' => text.Append("\\f"),
                '\n' => text.Append("\\n"),
                '\r' => text.Append("\\r"),
                '\t' => text.Append("\\t"),
                < ' ' => text.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture)),
                _ => text.Append(c),
            };
        }

        text.Append('"');
    }
}
