using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Metering.Ledger.Observability;

namespace Metering.Redis;

/// <summary>
/// The shared dedup's health as metrics, read from every live <see cref="RedisDedup"/> of the process at each scrape:
/// how many are degraded (Redis unreachable: lookups answer "not seen", marks wait in the backlog), the ids waiting
/// in the backlogs, and the ids dropped from full backlogs. Instances are held weakly. Thread-safe.
/// </summary>
public static class RedisDedupMetrics
{
    private static readonly Meter Meter = new(MeteringMeter.Name, MeteringMeter.Version);
    private static readonly ConditionalWeakTable<RedisDedup, object?> Live = [];

    static RedisDedupMetrics()
    {
        Meter.CreateObservableGauge("metering.redis.dedup.degraded", () => Sum(d => d.Degraded ? 1 : 0), "{instance}", "Shared Redis dedup instances that are degraded now (Redis unreachable; the engine's own horizon still applies).");
        Meter.CreateObservableGauge("metering.redis.dedup.backlog", () => Sum(d => d.BacklogIds), "{id}", "Seen ids waiting to be marked in Redis once it answers again.");
        Meter.CreateObservableCounter("metering.redis.dedup.backlog_dropped", () => Sum(d => d.BacklogDropped), "{id}", "Seen ids dropped from a full backlog while Redis was down (still in PostgreSQL's horizon).");
    }

    /// <summary>Reports <paramref name="dedup"/> while it is alive.</summary>
    public static void Track(RedisDedup dedup) => Live.AddOrUpdate(dedup, null);

    private static long Sum(Func<RedisDedup, long> read)
    {
        long total = 0;
        foreach (var (dedup, _) in Live)
        {
            total += read(dedup);
        }

        return total;
    }
}
