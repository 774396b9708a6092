using Metering.Analytics;

namespace Metering.Web.Api;

/// <summary>The usage store of a <c>metering serve</c> without an analytics store: <c>/v1/usage</c> answers 503 and <c>/readyz</c> reports <c>usage_store</c> failed.</summary>
internal sealed class UnconfiguredUsageStore : IUsageStore
{
    public Task<IReadOnlyList<UsagePoint>> QueryUsageAsync(UsageQuery query, CancellationToken cancellationToken) =>
        throw new UsageStoreUnavailableException("no usage store (ClickHouse) is configured for this server");

    public Task<bool> PingAsync(CancellationToken cancellationToken) => Task.FromResult(false);
}
