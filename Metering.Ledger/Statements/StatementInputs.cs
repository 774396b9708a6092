using System.Text;
using System.Text.Json;

namespace Metering.Ledger.Statements;

/// <summary>
/// What a statement was built from, so every number on it traces to ledger rows: the period-total rows, the ids of the
/// late-usage rows (<c>adjustments</c>), corrections and booked adjustments whose differences it carries, and the price
/// book versions its lines name. Stored with a final statement as jsonb (<see cref="ToJson"/>).
/// </summary>
public sealed record StatementInputs(
    IReadOnlyList<StatementTotalRow> Totals, IReadOnlyList<long> LateUsageIds, IReadOnlyList<long> CorrectionIds, IReadOnlyList<long> BookedAdjustmentIds,
    IReadOnlyList<StatementPriceBookRef> PriceBooks)
{
    /// <summary>The JSON stored in <c>statements.inputs</c> and served by the API (snake_case, decimals as strings).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("totals");
            foreach (var t in Totals)
            {
                w.WriteStartObject();
                w.WriteString("sku", t.Sku);
                if (t.Group.Length > 0)
                {
                    w.WriteString("dimension_group", t.Group);
                }

                if (t.PriceFrom is { } from)
                {
                    w.WriteString("price_from", from.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture));
                }

                w.WriteString("quantity", Rating.Statements.StatementHash.Number(t.Quantity));
                w.WriteNumber("record_count", t.RecordCount);
                w.WriteString("amount", Rating.Statements.StatementHash.Number(t.Amount));
                w.WriteString("currency", t.Currency);
                w.WriteString("price_book_hash", t.PriceBookHash);
                if (t.MeterUnpriced is { } unpriced)
                {
                    w.WriteString("meter_unpriced", unpriced);
                    w.WriteString("meter_detail", t.MeterDetail);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            Ids(w, "late_usage_ids", LateUsageIds);
            Ids(w, "correction_ids", CorrectionIds);
            Ids(w, "booked_adjustment_ids", BookedAdjustmentIds);
            w.WriteStartArray("price_books");
            foreach (var b in PriceBooks)
            {
                w.WriteStartObject();
                w.WriteString("book", b.Book);
                w.WriteString("version", b.Version);
                w.WriteString("hash", b.Hash);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads <see cref="ToJson"/>'s form back.</summary>
    public static StatementInputs FromJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var totals = root.GetProperty("totals").EnumerateArray().Select(t => new StatementTotalRow(
            t.GetProperty("sku").GetString()!, decimal.Parse(t.GetProperty("quantity").GetString()!, System.Globalization.CultureInfo.InvariantCulture),
            t.GetProperty("record_count").GetInt64(), decimal.Parse(t.GetProperty("amount").GetString()!, System.Globalization.CultureInfo.InvariantCulture),
            t.GetProperty("currency").GetString()!, t.GetProperty("price_book_hash").GetString()!,
            t.TryGetProperty("dimension_group", out var g) ? g.GetString()! : "",
            t.TryGetProperty("price_from", out var f) ? DateTimeOffset.Parse(f.GetString()!, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal) : null,
            t.TryGetProperty("meter_unpriced", out var mu) ? mu.GetString() : null, t.TryGetProperty("meter_detail", out var md) ? md.GetString() : null)).ToList();
        static List<long> IdsOf(JsonElement root, string name) => root.TryGetProperty(name, out var a) ? [.. a.EnumerateArray().Select(e => e.GetInt64())] : [];
        var books = root.GetProperty("price_books").EnumerateArray().Select(b => new StatementPriceBookRef(
            b.GetProperty("book").GetString()!, b.GetProperty("version").GetString()!, b.GetProperty("hash").GetString()!)).ToList();
        return new StatementInputs(totals, IdsOf(root, "late_usage_ids"), IdsOf(root, "correction_ids"), IdsOf(root, "booked_adjustment_ids"), books);
    }

    private static void Ids(Utf8JsonWriter w, string name, IReadOnlyList<long> ids)
    {
        w.WriteStartArray(name);
        foreach (var id in ids)
        {
            w.WriteNumberValue(id);
        }

        w.WriteEndArray();
    }
}
