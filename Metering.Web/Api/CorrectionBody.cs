using System.Text.Json;
using System.Text.Json.Serialization;

namespace Metering.Web.Api;

/// <summary>
/// The body of <c>POST /v1/accounts/{account}/corrections</c> (docs/api.md#corrections). Quantities and amounts are
/// exact decimal strings; <c>event_time</c> an RFC 3339 instant; <c>period</c> a period start (YYYY-MM-DD or YYYY-MM).
/// Which fields a kind takes is <see cref="Metering.Ledger.Corrections.CorrectionRequest.Validate"/>'s rule.
/// </summary>
internal sealed record CorrectionBody(string? Kind, string? IdempotencyKey, string? EventId = null, string? Sku = null, string? EventTime = null,
    string? OriginalQuantity = null, string? NewQuantity = null, string? Amount = null, string? Currency = null, string? Period = null, string? Reason = null,
    Dictionary<string, string>? Dimensions = null)
{
    /// <summary>Fields beyond the known ones: a misspelt <c>new_qty</c> must be a 400, not an amend without a quantity.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Unknown { get; init; }
}
