using System.Text.Json.Serialization;

namespace Metering.Web.Api;

/// <summary>Dead letters of one reason: how many, how many the dead-letter topic has not acknowledged, first and last received.</summary>
public sealed record DeadLetterReasonCount(
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("count")] long Count,
    [property: JsonPropertyName("unpublished")] long Unpublished,
    [property: JsonPropertyName("first_received_at")] DateTimeOffset FirstReceivedAt,
    [property: JsonPropertyName("last_received_at")] DateTimeOffset LastReceivedAt);
