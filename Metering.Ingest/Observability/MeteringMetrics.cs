using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Metering.Ledger.Observability;
using Metering.Ledger.Quotas;

namespace Metering.Ingest.Observability;

/// <summary>
/// The engine's metrics: one <see cref="Meter"/> named <c>Metering</c>, exported at <c>/metrics</c> by <c>metering serve</c>
/// (docs/operations.md, "Metrics", lists every series). Every method is thread-safe, allocation-free on the counting
/// paths and never throws into the caller: metrics observe the engine, they never steer it.
/// </summary>
/// <remarks>
/// Metrics are observability, never billing. OpenTelemetry counters of money are <see cref="double"/>, so
/// <c>metering_rated_amount_total</c> is approximate; the exact amounts live in PostgreSQL (<c>billing_period_totals</c>).
/// </remarks>
public static class MeteringMetrics
{
    // Latency buckets in seconds: 0.5 ms .. 30 s (a flush or a COPY of a large batch can take seconds).
    private static readonly double[] LatencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private static readonly Meter Meter = new(MeteringMeter.Name, MeteringMeter.Version);
    private static readonly Counter<long> Read = Meter.CreateCounter<long>("metering.records.read", "{record}", "Usage records read from the source (Kafka or file), before any check.");
    private static readonly Counter<long> Accepted = Meter.CreateCounter<long>("metering.records.accepted", "{record}", "Usage records accepted and counted into an aggregate.");
    private static readonly Counter<long> Duplicate = Meter.CreateCounter<long>("metering.records.duplicate", "{record}", "Usage records dropped as duplicates of an already counted (account, id).");
    private static readonly Counter<long> Rejected = Meter.CreateCounter<long>("metering.records.rejected", "{record}", "Usage records rejected to the dead letters, by reason.");
    private static readonly Counter<long> Conflict = Meter.CreateCounter<long>("metering.records.conflicts", "{record}", "Usage records whose (account, id) was accepted before with another payload: dead-lettered as conflict (also in metering.records.rejected).");
    private static readonly Histogram<double> FlushDuration = Meter.CreateHistogram("metering.flush.duration", "s", "Time to flush one batch of aggregates to the ledger (rate, write, commit).", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
    private static readonly Counter<long> Overflow = Meter.CreateCounter<long>("metering.aggregate.overflow", "{record}", "Records that hit a cardinality limit (a new account, SKU or dimension set beyond the configured number of keys).");
    private static readonly Counter<long> CatalogRenewals = Meter.CreateCounter<long>("metering.catalog.renewals", "{renewal}", "Interning catalogs the engine replaced by a fresh one, by why (half full at a flush, or full mid-chunk: then cardinality far beyond normal reached the engine).");
    private static readonly Histogram<double> PostgresWrite = Meter.CreateHistogram("metering.postgres.write.duration", "s", "Latency of one PostgreSQL ledger write transaction.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
    private static readonly Counter<long> PostgresErrors = Meter.CreateCounter<long>("metering.postgres.write.errors", "{error}", "PostgreSQL ledger writes that failed (retried or fatal).");
    private static readonly Counter<long> FlushDataFaults = Meter.CreateCounter<long>("metering.flush.data_faults", "{flush}", "Flushes the ledger refused for their data (never retried as is: their records are isolated).");
    private static readonly Counter<long> Isolated = Meter.CreateCounter<long>("metering.records.isolated", "{record}", "Records the ledger refused, found by isolation and dead-lettered as ledger_rejected.");
    private static readonly Counter<double> RatedAmount = Meter.CreateCounter<double>("metering.rated.amount", "{currency_unit}", "Amount rated, per currency, in major units (approximate: a double; never use for billing).");

    private static readonly Counter<long> Fenced = Meter.CreateCounter<long>("metering.flush.fenced", "{batch}", "Flush batches refused by the offset fence (another member committed the partition first) and rolled back.");
    private static readonly Counter<long> Stalls = Meter.CreateCounter<long>("metering.consumer.stalls", "{stall}", "Times the watchdog found assigned partitions with lag and nothing consumed for the stall timeout (the member then reports unhealthy).");
    private static readonly Counter<long> DeadLetterOutboxPublished = Meter.CreateCounter<long>("metering.dead_letters.published", "{record}", "Dead letters from the outbox acknowledged by the dead-letter topic.");
    private static readonly ConcurrentDictionary<long, Func<IEnumerable<PartitionLag>>> LagSources = new();
    private static readonly ConcurrentDictionary<long, Func<double>> StallSources = new();
    private static long _nextLagSource;
    private static long _activeKeys;

    static MeteringMetrics()
    {
        Meter.CreateObservableGauge("metering.consumer.lag", ObserveLag, "{message}", "Messages not yet consumed, per topic and partition (high watermark - position).");
        Meter.CreateObservableGauge("metering.consumer.stalled", ObserveStalls, "s", "Seconds the member has held partitions with lag without consuming, once the watchdog declared it stalled; 0 when healthy.");
        Meter.CreateObservableGauge("metering.quotas.invalid", () => QuotaEvaluator.InvalidQuotas, "{quota}", "Quotas whose stored threshold is outside the ledger's range: skipped by every evaluation (remove and set them again).");
        Meter.CreateObservableGauge("metering.aggregate.keys.active", () => Volatile.Read(ref _activeKeys), "{key}", "Distinct (account, SKU, window, dimensions) keys held in memory now.");
    }

    /// <summary>Counts <paramref name="n"/> records read from the source.</summary>
    public static void RecordsRead(long n) => Read.Add(n);

    /// <summary>Counts <paramref name="n"/> records accepted into aggregates.</summary>
    public static void RecordsAccepted(long n) => Accepted.Add(n);

    /// <summary>Counts <paramref name="n"/> duplicate records dropped.</summary>
    public static void RecordsDuplicate(long n) => Duplicate.Add(n);

    /// <summary>Counts <paramref name="n"/> records rejected for <paramref name="reason"/> (a dead-letter reason code such as <c>invalid_quantity</c>; keep the set of reasons small and fixed).</summary>
    public static void RecordsRejected(long n, string reason) => Rejected.Add(n, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>Counts <paramref name="n"/> records rejected as conflicts (same id, another payload); the caller counts them as rejected too.</summary>
    public static void RecordsConflict(long n) => Conflict.Add(n);

    /// <summary>Counts one interning-catalog renewal; <paramref name="why"/> is "half full" or "full".</summary>
    public static void CatalogRenewed(string why) => CatalogRenewals.Add(1, new KeyValuePair<string, object?>("why", why));

    /// <summary>Records one flush's duration.</summary>
    public static void FlushCompleted(TimeSpan duration) => FlushDuration.Record(duration.TotalSeconds);

    /// <summary>Sets the number of aggregate keys held in memory now (read at each scrape).</summary>
    public static void SetActiveAggregateKeys(long keys) => Volatile.Write(ref _activeKeys, keys);

    /// <summary>Counts <paramref name="n"/> records that hit a cardinality limit (today the engine dead-letters them as <c>cardinality_limit</c>; they are also counted as rejected).</summary>
    public static void AggregateOverflow(long n) => Overflow.Add(n);

    /// <summary>Records one PostgreSQL write's latency; <paramref name="failed"/> also counts an error.</summary>
    public static void PostgresWriteCompleted(TimeSpan duration, bool failed = false)
    {
        PostgresWrite.Record(duration.TotalSeconds);
        if (failed)
        {
            PostgresErrors.Add(1);
        }
    }

    /// <summary>Counts one flush that failed on a data fault.</summary>
    public static void FlushDataFault() => FlushDataFaults.Add(1);

    /// <summary>Counts <paramref name="n"/> records isolated from a failing flush and dead-lettered as <c>ledger_rejected</c>.</summary>
    public static void RecordsIsolated(long n) => Isolated.Add(n);

    /// <summary>Adds a rated amount (major units) in <paramref name="currency"/>; approximate, for dashboards only.</summary>
    public static void Rated(decimal amount, string currency) =>
        RatedAmount.Add((double)amount, new KeyValuePair<string, object?>("currency", currency));

    /// <summary>Counts one flush batch refused by the offset fence and rolled back.</summary>
    public static void FlushFenced() => Fenced.Add(1);

    /// <summary>Counts one stall the watchdog detected.</summary>
    public static void ConsumerStalled() => Stalls.Add(1);

    /// <summary>Counts <paramref name="n"/> dead letters the dead-letter topic acknowledged from the outbox.</summary>
    public static void DeadLettersPublished(long n) => DeadLetterOutboxPublished.Add(n);

    /// <summary>Registers a watchdog's stalled seconds (0 when healthy), read at each scrape; dispose to unregister.</summary>
    public static IDisposable RegisterStallSource(Func<double> stalledSeconds)
    {
        ArgumentNullException.ThrowIfNull(stalledSeconds);
        var id = Interlocked.Increment(ref _nextLagSource);
        StallSources[id] = stalledSeconds;
        return new Registration(id);
    }

    private static List<Measurement<double>> ObserveStalls()
    {
        var measurements = new List<Measurement<double>>();
        foreach (var source in StallSources.Values)
        {
            measurements.Add(new Measurement<double>(source()));
        }

        return measurements;
    }

    /// <summary>
    /// Registers a source of per-partition consumer lag, called at each scrape (keep it cheap: read cached
    /// watermarks, do not call the broker). Dispose the result to unregister (e.g. on partitions revoked).
    /// </summary>
    public static IDisposable RegisterConsumerLag(Func<IEnumerable<PartitionLag>> source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var id = Interlocked.Increment(ref _nextLagSource);
        LagSources[id] = source;
        return new Registration(id);
    }

    private static List<Measurement<long>> ObserveLag()
    {
        var measurements = new List<Measurement<long>>();
        foreach (var source in LagSources.Values)
        {
            IEnumerable<PartitionLag> lags;
            try
            {
                lags = source();
            }
#pragma warning disable CA1031 // a failing lag source must not break the scrape of every other series
            catch (Exception)
#pragma warning restore CA1031
            {
                continue;
            }

            foreach (var l in lags)
            {
                measurements.Add(new Measurement<long>(l.Lag, new KeyValuePair<string, object?>("topic", l.Topic), new KeyValuePair<string, object?>("partition", l.Partition)));
            }
        }

        return measurements;
    }

    private sealed class Registration(long id) : IDisposable
    {
        public void Dispose()
        {
            LagSources.TryRemove(id, out _);
            StallSources.TryRemove(id, out _);
        }
    }
}
