namespace Metering.Analytics;

/// <summary>A usage query: one account, optionally one SKU, a half-open time range [From, To), bucketed, grouped by dimension keys.</summary>
public sealed record UsageQuery(string Account, string? Sku, DateTimeOffset From, DateTimeOffset To, UsageGranularity Granularity, IReadOnlyList<string> GroupBy);
