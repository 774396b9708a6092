using Metering.Analytics;

namespace Metering.Tests.Api;

/// <summary>One rated usage row a test hands to <see cref="InMemoryUsageStore"/>.</summary>
public sealed record UsageRow(DateTimeOffset Time, string Account, string Sku, IReadOnlyDictionary<string, string> Dimensions, decimal Quantity, long RecordCount, decimal Amount, string Currency);

/// <summary>
/// A plain reference implementation of <see cref="IUsageStore"/>: filters the rows by account, SKU and [from, to), buckets
/// them by UTC minute, hour or day, groups by the requested dimension keys (a missing key groups as ""), sums exactly
/// and orders by bucket, SKU, dimensions, as the contract says.
/// </summary>
public sealed class InMemoryUsageStore : IUsageStore
{
    private readonly List<UsageRow> _rows = [];

    public bool Healthy { get; set; } = true;

    public int Queries;

    public void Add(UsageRow row)
    {
        lock (_rows)
        {
            _rows.Add(row);
        }
    }

    public Task<IReadOnlyList<UsagePoint>> QueryUsageAsync(UsageQuery query, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Queries);
        var bucket = query.Granularity switch
        {
            UsageGranularity.Minute => TimeSpan.TicksPerMinute,
            UsageGranularity.Hour => TimeSpan.TicksPerHour,
            _ => TimeSpan.TicksPerDay,
        };
        var groups = new Dictionary<string, (DateTimeOffset Start, string Sku, Dictionary<string, string> Dims, decimal Q, long N, decimal A, string C)>(StringComparer.Ordinal);
        lock (_rows)
        {
            foreach (var r in _rows)
            {
                if (r.Account != query.Account || (query.Sku is not null && r.Sku != query.Sku) || r.Time < query.From || r.Time >= query.To)
                {
                    continue;
                }

                var start = new DateTimeOffset(r.Time.UtcTicks - (r.Time.UtcTicks % bucket), TimeSpan.Zero);
                var dims = query.GroupBy.ToDictionary(k => k, k => r.Dimensions.GetValueOrDefault(k, ""), StringComparer.Ordinal);
                var key = $"{start.UtcTicks}\u0001{r.Sku}\u0001{r.Currency}\u0001{string.Join('\u0001', query.GroupBy.Select(k => dims[k]))}";
                var g = groups.GetValueOrDefault(key, (start, r.Sku, dims, 0m, 0L, 0m, r.Currency));
                groups[key] = (g.Item1, g.Item2, g.Item3, g.Item4 + r.Quantity, g.Item5 + r.RecordCount, g.Item6 + r.Amount, g.Item7);
            }
        }

        IReadOnlyList<UsagePoint> points = groups.Values
            .OrderBy(g => g.Start).ThenBy(g => g.Sku, StringComparer.Ordinal)
            .ThenBy(g => string.Join('\u0001', query.GroupBy.Select(k => g.Dims[k])), StringComparer.Ordinal)
            .Select(g => new UsagePoint(g.Start, g.Sku, g.Dims, g.Q, g.N, g.A, g.C))
            .ToList();
        return Task.FromResult(points);
    }

    public Task<bool> PingAsync(CancellationToken cancellationToken) => Task.FromResult(Healthy);
}
