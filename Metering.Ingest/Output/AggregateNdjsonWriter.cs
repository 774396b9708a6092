using System.Text.Json;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;

namespace Metering.Ingest.Output;

/// <summary>
/// Writes aggregate rows as NDJSON, sorted by account, SKU, window and dimensions (docs/usage-records.md):
/// <c>{"account","sku","window_start","window_end","dimensions","count","quantity","min","max","first_time","last_time"}</c>.
/// Quantities are exact decimal strings.
/// </summary>
public static class AggregateNdjsonWriter
{
    /// <summary>Writes <paramref name="rows"/> to <paramref name="output"/>.</summary>
    public static void Write(Stream output, IEnumerable<AggregateRow> rows, RecordCatalog catalog, TumblingWindows windows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(windows);
        var sorted = rows
            .OrderBy(r => catalog.Accounts.GetString(r.AccountId), StringComparer.Ordinal)
            .ThenBy(r => catalog.Skus.GetString(r.SkuId), StringComparer.Ordinal)
            .ThenBy(r => r.WindowIndex)
            .ThenBy(r => r.DimensionSetId == 0 ? "" : catalog.DimensionSets.GetString(r.DimensionSetId), StringComparer.Ordinal);
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
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
    }

    /// <summary>RFC 3339 in UTC with a 'Z' and only the fractional digits needed (microsecond resolution at most).</summary>
    public static string Utc(long ticks) =>
        new DateTime(ticks, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
