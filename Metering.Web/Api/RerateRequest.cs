using System.Text.Json;
using System.Text.Json.Serialization;

namespace Metering.Web.Api;

/// <summary>
/// The body of <c>POST /v1/periods/{period}/rerate</c>: the draft list book (<c>price_book</c>, a price-book JSON object,
/// docs/pricebooks.md) and its contract books (<c>contracts</c>, optional), the one <c>account</c> to re-rate (optional:
/// every account with a final statement), and for <c>apply</c> the <c>reason</c>, an optional <c>idempotency_key</c>
/// and <c>force</c> (re-rate a period already re-rated for an account).
/// </summary>
internal sealed record RerateRequest(JsonElement? PriceBook, IReadOnlyList<JsonElement>? Contracts = null, string? Account = null, bool Apply = false, string? Reason = null,
    string? IdempotencyKey = null, bool Force = false)
{
    /// <summary>Fields beyond the known ones: a misspelt <c>idempotency_key</c> must be a 400, not an apply without a key.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Unknown { get; init; }
}
