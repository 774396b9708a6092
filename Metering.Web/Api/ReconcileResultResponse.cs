using System.Text.Json.Serialization;

namespace Metering.Web.Api;

/// <summary>
/// <c>GET /v1/operators/reconcile</c>: the period's billing totals (PostgreSQL) against the ClickHouse sums, exactly;
/// <c>status</c> is <c>clean</c> or <c>drift</c>; at most 100 drifts are listed (<c>drift_count</c> has them all).
/// </summary>
public sealed record ReconcileResultResponse(
    [property: JsonPropertyName("period_start")] DateTimeOffset PeriodStart,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("ledger_totals")] int LedgerTotals,
    [property: JsonPropertyName("clickhouse_groups")] int ClickHouseGroups,
    [property: JsonPropertyName("in_flight")] int InFlight,
    [property: JsonPropertyName("drift_count")] int DriftCount,
    [property: JsonPropertyName("drifts")] IReadOnlyList<ReconcileDriftResponse> Drifts);
