using System.Text.Json;

namespace Metering.Web.Api;

/// <summary>One published version with the document exactly as it was published.</summary>
internal sealed record PriceBookVersionResponse(string Id, string Version, string Currency, string? Account, string? Parent, DateTimeOffset EffectiveFrom, DateTimeOffset? EffectiveTo, string Hash, DateTimeOffset PublishedAt, JsonElement Document);
