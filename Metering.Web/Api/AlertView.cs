using System.Text.Json.Serialization;

namespace Metering.Web.Api;

/// <summary>
/// A quota alert as the API shows it: which quota crossed in which period, the metric before and after the crossing
/// flush (exact decimal strings), and its delivery state: <c>delivered</c> (every configured channel acknowledged it),
/// <c>pending</c> (not yet, or being retried; <c>last_error</c> says why).
/// </summary>
public sealed record AlertView(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("quota_id")] long QuotaId,
    [property: JsonPropertyName("account")] string Account,
    [property: JsonPropertyName("sku")] string? Sku,
    [property: JsonPropertyName("metric")] string Metric,
    [property: JsonPropertyName("threshold")] string Threshold,
    [property: JsonPropertyName("value_before")] string ValueBefore,
    [property: JsonPropertyName("value_at_crossing")] string ValueAtCrossing,
    [property: JsonPropertyName("currency")] string? Currency,
    [property: JsonPropertyName("period_start")] DateTimeOffset PeriodStart,
    [property: JsonPropertyName("crossed_at")] DateTimeOffset CrossedAt,
    [property: JsonPropertyName("delivered_kafka_at")] DateTimeOffset? DeliveredKafkaAt,
    [property: JsonPropertyName("delivered_webhook_at")] DateTimeOffset? DeliveredWebhookAt,
    [property: JsonPropertyName("attempts")] int Attempts,
    [property: JsonPropertyName("last_error")] string? LastError);
