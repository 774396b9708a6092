
namespace Metering.Web.Api;

/// <summary>One published version in a listing.</summary>
internal sealed record PriceBookVersionSummary(string Version, DateTimeOffset EffectiveFrom, DateTimeOffset? EffectiveTo, string Hash, DateTimeOffset PublishedAt);
