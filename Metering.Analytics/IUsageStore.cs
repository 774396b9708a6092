namespace Metering.Analytics;

/// <summary>Bucket size of a usage query.</summary>
public enum UsageGranularity
{
    /// <summary>One bucket per minute.</summary>
    Minute,

    /// <summary>One bucket per hour.</summary>
    Hour,

    /// <summary>One bucket per day (UTC).</summary>
    Day,
}

/// <summary>A usage query: one account, optionally one SKU, a half-open time range [From, To), bucketed, grouped by dimension keys.</summary>
public sealed record UsageQuery(string Account, string? Sku, DateTimeOffset From, DateTimeOffset To, UsageGranularity Granularity, IReadOnlyList<string> GroupBy);

/// <summary>One bucket of a usage query's answer; Dimensions holds only the group_by keys.</summary>
public sealed record UsagePoint(DateTimeOffset BucketStart, string Sku, IReadOnlyDictionary<string, string> Dimensions, decimal Quantity, long RecordCount, decimal Amount, string Currency);

/// <summary>Where rated usage is queried from (ClickHouse).</summary>
public interface IUsageStore
{
    /// <summary>Usage buckets for <paramref name="query"/>, ordered by bucket, SKU, dimensions.</summary>
    Task<IReadOnlyList<UsagePoint>> QueryUsageAsync(UsageQuery query, CancellationToken cancellationToken);

    /// <summary>True when the store answers (readiness).</summary>
    Task<bool> PingAsync(CancellationToken cancellationToken);
}
