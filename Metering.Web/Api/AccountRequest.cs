using System.Text.Json;
using System.Text.Json.Serialization;

namespace Metering.Web.Api;

/// <summary>
/// The body of <c>PUT /v1/accounts/{account}</c>: the account's terms (instants as RFC 3339 strings) and an optional
/// reason for the audit. Absent <c>contract_book</c>, <c>end</c>, <c>anchor_day</c>, <c>time_zone</c> mean none (the
/// period rule then follows the list book's).
/// </summary>
internal sealed record AccountRequest(string? Currency, string? ListBook, string? Start, string? ContractBook = null, string? End = null, int? AnchorDay = null,
    string? TimeZone = null, string? Reason = null)
{
    /// <summary>Fields the body has beyond the known ones: a misspelt <c>timezone</c> must be a 400, not terms without a zone.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Unknown { get; init; }
}
