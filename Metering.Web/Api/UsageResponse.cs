
namespace Metering.Web.Api;

/// <summary>A page of a usage query's answer; <c>next_cursor</c> is null on the last page.</summary>
internal sealed record UsageResponse(string Account, string? Sku, DateTimeOffset From, DateTimeOffset To, string Granularity, IReadOnlyList<string> GroupBy, IReadOnlyList<UsagePointResponse> Points, string? NextCursor);
