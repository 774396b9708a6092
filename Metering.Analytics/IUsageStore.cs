namespace Metering.Analytics;

/// <summary>Where rated usage is queried from (ClickHouse).</summary>
public interface IUsageStore
{
    /// <summary>Usage buckets for <paramref name="query"/>, ordered by bucket, SKU, dimensions.</summary>
    Task<IReadOnlyList<UsagePoint>> QueryUsageAsync(UsageQuery query, CancellationToken cancellationToken);

    /// <summary>True when the store answers (readiness).</summary>
    Task<bool> PingAsync(CancellationToken cancellationToken);
}
