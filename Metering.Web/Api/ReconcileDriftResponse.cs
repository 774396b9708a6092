using System.Text.Json.Serialization;

namespace Metering.Web.Api;

/// <summary>One drifting total: the field (quantity, record_count, amount, or row), the ledger's and ClickHouse's exact values (null: no row).</summary>
public sealed record ReconcileDriftResponse(
    [property: JsonPropertyName("account")] string Account,
    [property: JsonPropertyName("sku")] string Sku,
    [property: JsonPropertyName("field")] string Field,
    [property: JsonPropertyName("ledger")] string? Ledger,
    [property: JsonPropertyName("clickhouse")] string? ClickHouse);
