
namespace Metering.Web.Api;

/// <summary>One price book and its published versions.</summary>
internal sealed record PriceBookSummary(string Id, string Currency, string? Account, string? Parent, IReadOnlyList<PriceBookVersionSummary> Versions);
