using System.Diagnostics.Metrics;
using Metering.Ledger.Observability;

namespace Metering.Web.Observability;

/// <summary>
/// The alert dispatcher's metrics, read from the running dispatcher at each scrape: rounds that delivered what was
/// due and rounds that failed as a whole (PostgreSQL, Kafka unreachable). One dispatcher per process (the
/// <c>metering alerts dispatch</c> command); <see cref="Observe"/> replaces the previous source. Thread-safe.
/// </summary>
public static class AlertDispatchMetrics
{
    private static readonly Meter Meter = new(MeteringMeter.Name, MeteringMeter.Version);
    private static Func<(long Rounds, long Failed)>? _source;

    static AlertDispatchMetrics()
    {
        Meter.CreateObservableCounter("metering.alerts.rounds", () => Read(r => r.Rounds), "{round}", "Alert dispatch rounds completed (each delivers what was due, up to the batch).");
        Meter.CreateObservableCounter("metering.alerts.failed_rounds", () => Read(r => r.Failed), "{round}", "Alert dispatch rounds that failed as a whole and were retried after the interval.");
    }

    /// <summary>Reports <paramref name="source"/>'s counts from now on (both monotonic).</summary>
    public static void Observe(Func<(long Rounds, long Failed)> source) => Volatile.Write(ref _source, source);

    private static IEnumerable<Measurement<long>> Read(Func<(long Rounds, long Failed), long> pick)
    {
        if (Volatile.Read(ref _source) is { } source)
        {
            yield return new Measurement<long>(pick(source()));
        }
    }
}
