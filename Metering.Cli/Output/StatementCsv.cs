using System.Text;
using Metering.Web.Api;

namespace Metering.Cli.Output;

/// <summary>
/// The CSV form of statements (<c>metering statements export --format csv</c>, docs/statements.md "Export"): RFC 4180,
/// UTF-8, a header row, then one row per statement line (usage, fee, commitment, adjustment) and one <c>total</c> row
/// per currency, each repeating the statement's id, account, period, status and content hash, so any row can be
/// traced on its own. Values are the API's exact decimal strings.
/// </summary>
internal static class StatementCsv
{
    public static readonly string[] Columns =
    [
        "statement_id", "account", "period_start", "period_end", "status", "content_hash", "line_id", "line_type", "item", "dimensions", "kind", "reference",
        "recorded_quantity", "recorded_unit", "included_units_applied", "billable_quantity", "billable_unit", "record_count", "service_start", "service_end",
        "proration_factor", "amount", "currency", "price_book", "price_book_version", "price_book_hash", "detail",
    ];

    public static string Header => string.Join(',', Columns);

    /// <summary>The rows of one statement, each ending in CRLF.</summary>
    public static string Rows(StatementResponse s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var sb = new StringBuilder();
        void Row(string lineId, string type, string? item, IReadOnlyDictionary<string, string>? dimensions, string? kind, string? reference, string? recorded, string? recordedUnit, string? included, string? billable,
            string? billableUnit, long? count, DateTimeOffset? serviceStart, DateTimeOffset? serviceEnd, string? proration, string amount, string? currency, string? book,
            string? version, string? hash, string? detail)
        {
            string?[] values =
            [
                s.StatementId, s.Account, Instant(s.PeriodStart), Instant(s.PeriodEnd), s.Status, s.ContentHash, lineId, type, item, DimensionsText(dimensions), kind, reference, recorded, recordedUnit,
                included, billable, billableUnit, count?.ToString(System.Globalization.CultureInfo.InvariantCulture), Instant(serviceStart), Instant(serviceEnd), proration,
                amount, currency, book, version, hash, detail,
            ];
            sb.AppendJoin(',', values.Select(Field)).Append("\r\n");
        }

        foreach (var u in s.Usage)
        {
            var tiers = string.Join("; ", u.Tiers.Select(t => $"tier {t.Tier}: {t.Quantity} x {t.UnitPrice}{(t.FlatFee == "0" ? "" : " + " + t.FlatFee)} = {t.Amount}"));
            var detail = u.Priced ? (tiers.Length > 0 ? tiers : null) : "unpriced: " + u.UnpricedReason;
            Row(u.LineId, "usage", u.Sku, u.Dimensions, null, null, u.RecordedQuantity, u.RecordedUnit, u.IncludedUnitsApplied, u.BillableQuantity, u.BillableUnit, u.RecordCount, null, null, null,
                u.Amount, u.Currency, u.PriceBook, u.PriceBookVersion, u.PriceBookHash, detail);
        }

        foreach (var f in s.Fees)
        {
            Row(f.LineId, "fee", f.FeeId, null, null, null, null, null, null, null, null, null, f.ServiceStart, f.ServiceEnd, f.ProrationFactor, f.Amount, f.Currency, f.PriceBook,
                f.PriceBookVersion, f.PriceBookHash, null);
        }

        foreach (var c in s.Commitments)
        {
            Row(c.LineId, "commitment", "minimum_commitment", null, null, null, null, null, null, null, null, null, null, null, null, c.TrueUp, c.Currency, c.PriceBook, c.PriceBookVersion,
                c.PriceBookHash, $"committed {c.Committed}, usage charged {c.UsageCharged}, true-up {c.TrueUp}");
        }

        foreach (var a in s.Adjustments)
        {
            Row(a.LineId, "adjustment", a.Sku, a.Dimensions, a.Kind, a.Reference, a.Quantity, null, null, null, null, null, null, null, null, a.Amount, a.Currency, null, null, null, a.Reason);
        }

        foreach (var t in s.Totals)
        {
            Row("total:" + t.Currency, "total", null, null, null, null, null, null, null, null, null, null, null, null, null, t.Total, t.Currency, null, null, null,
                $"usage {t.Usage}, fees {t.Fees}, commitments {t.Commitments}, adjustments {t.Adjustments}");
        }

        return sb.ToString();
    }

    /// <summary>A line's dimension group as compact JSON (<c>{"region":"eu"}</c>); empty for an ungrouped line and for lines that are not usage.</summary>
    private static string? DimensionsText(IReadOnlyDictionary<string, string>? dimensions) =>
        dimensions is null || dimensions.Count == 0 ? null : System.Text.Json.JsonSerializer.Serialize(dimensions, CompactJson);

    // As the group's canonical text writes it: "é" stays "é" (CSV is UTF-8), quotes and controls are escaped.
    private static readonly System.Text.Json.JsonSerializerOptions CompactJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string? Instant(DateTimeOffset? value) => value?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static string Field(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        // Quote what CSV needs quoted; a leading =, +, -, @ is also quoted and prefixed with ' so a spreadsheet does not
        // run it as a formula (account ids and reasons come from clients). Numbers never start with those but '-'.
        var formula = value[0] is '=' or '+' or '@' || (value[0] == '-' && !decimal.TryParse(value, System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture, out _));
        if (formula)
        {
            value = "'" + value;
        }

        return value.AsSpan().IndexOfAny(",\"\r\n") >= 0 || formula ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }
}
