using System.Globalization;
using System.Text.Json;

namespace Metering.Ledger.Quotas;

/// <summary>
/// One row of the <c>alerts</c> outbox: quota <see cref="QuotaId"/> was crossed in the billing period starting at
/// <see cref="PeriodStart"/>. <see cref="Id"/> is fixed when the alert is detected and sent with every delivery, so
/// receivers drop redeliveries by it.
/// </summary>
public sealed record Alert(
    Guid Id, string Key, long QuotaId, string Account, string? Sku, string Metric, decimal Threshold, decimal ValueBefore,
    decimal ValueAtCrossing, string? Currency, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, DateTimeOffset CrossedAt)
{
    /// <summary>The columns <see cref="Read"/> expects, in order.</summary>
    internal const string Columns =
        "id, alert_key, quota_id, account, sku, metric, threshold, value_before, value_at_crossing, currency, period_start, period_end, crossed_at";

    /// <summary>Reads an alert from a row selected with <see cref="Columns"/>.</summary>
    internal static Alert Read(Npgsql.NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4), r.GetString(5),
        r.GetDecimal(6), r.GetDecimal(7), r.GetDecimal(8), r.IsDBNull(9) ? null : r.GetString(9),
        Utc(r.GetDateTime(10)), Utc(r.GetDateTime(11)), Utc(r.GetDateTime(12)));

    /// <summary>
    /// The message body (Kafka value and webhook body), UTF-8 JSON: numbers as exact decimal strings, instants in RFC 3339 UTC.
    /// <c>{"id":"…","alert_key":"7:2026-11-01T00:00:00Z","quota_id":7,"account":"a","sku":"s"|null,"metric":"quantity"|"amount",
    /// "threshold":"1500","value_before":"1400","value":"1600","currency":null|"USD","period_start":"…","period_end":"…","crossed_at":"…"}</c>
    /// </summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", Id.ToString("D"));
            w.WriteString("alert_key", Key);
            w.WriteNumber("quota_id", QuotaId);
            w.WriteString("account", Account);
            w.WriteString("sku", Sku);
            w.WriteString("metric", Metric);
            w.WriteString("threshold", Exact(Threshold));
            w.WriteString("value_before", Exact(ValueBefore));
            w.WriteString("value", Exact(ValueAtCrossing));
            w.WriteString("currency", Currency);
            w.WriteString("period_start", Instant(PeriodStart));
            w.WriteString("period_end", Instant(PeriodEnd));
            w.WriteString("crossed_at", Instant(CrossedAt));
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>numeric(38,9) without its trailing zeros: 1500.000000000 -> "1500", 0.500000000 -> "0.5".</summary>
    private static string Exact(decimal value) => value.ToString("G29", CultureInfo.InvariantCulture);

    private static string Instant(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset Utc(DateTime t) => new(DateTime.SpecifyKind(t, DateTimeKind.Utc));
}
