using System.Text.Json.Serialization;

namespace Metering.Web.Api;

/// <summary><c>GET /v1/operators/dead-letters</c>: every dead letter the ledger holds, by reason (most first).</summary>
public sealed record DeadLetterSummaryResponse(
    [property: JsonPropertyName("total")] long Total,
    [property: JsonPropertyName("reasons")] IReadOnlyList<DeadLetterReasonCount> Reasons);
