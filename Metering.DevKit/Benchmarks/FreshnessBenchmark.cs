using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Metering.Analytics;
using Metering.DevKit.Kafka;
using Metering.Ingest.Streaming;
using Metering.Rating.PriceBooks;
using Npgsql;

namespace Metering.DevKit.Benchmarks;

/// <summary>
/// Freshness: how long from a record's arrival in Kafka until it is queryable through the usage store, under a steady
/// load. A paced producer sends records stamped with the current time at <c>rate</c> records/s; every 100 ms one of
/// them is a probe of an account of its own. The engine flushes to PostgreSQL, the exporter moves the outbox to
/// ClickHouse, and a poller asks the usage store for each probe account until it appears: the probe's latency is
/// from its delivery acknowledgement to the first answer that contains it.
/// </summary>
public static class FreshnessBenchmark
{
    /// <summary>
    /// The measured latencies in milliseconds (ascending, one per probe that became queryable) and the load actually
    /// sent; <see cref="Missing"/> probes were not queryable within 30 s after the load.
    /// </summary>
    public sealed record Result(IReadOnlyList<double> LatenciesMs, long Sent, TimeSpan Elapsed, int Missing)
    {
        /// <summary>Records sent per second of load.</summary>
        public double SentPerSecond => Sent / Elapsed.TotalSeconds;

        /// <summary>Median arrival -> queryable latency, milliseconds (nearest rank; NaN without probes).</summary>
        public double P50Milliseconds => Measurement.NearestRank(LatenciesMs, 0.5);

        /// <summary>99th percentile arrival -> queryable latency, milliseconds (nearest rank; NaN without probes).</summary>
        public double P99Milliseconds => Measurement.NearestRank(LatenciesMs, 0.99);

        /// <summary>Slowest probe, milliseconds (NaN without probes).</summary>
        public double MaxMilliseconds => LatenciesMs.Count == 0 ? double.NaN : LatenciesMs[^1];
    }

    /// <summary>
    /// Runs the load on an embedded Kafka broker of its own (topic <c>usage</c>, 32 partitions) with the engine
    /// flushing every <paramref name="flushInterval"/>: <see cref="RunAsync"/> for the rest.
    /// </summary>
    public static async Task<Result> RunOnEmbeddedKafkaAsync(NpgsqlDataSource db, PriceCatalog? prices, IAnalyticsTransport transport, AnalyticsSchema schema,
        int rate, TimeSpan duration, TimeSpan flushInterval, TimeSpan exportInterval, TextWriter progress, CancellationToken cancellationToken)
    {
        using var kafka = new EmbeddedKafkaCluster(brokers: 1);
        kafka.CreateTopic("usage", 32, 1);
        kafka.CreateTopic("usage.dead-letters", 4, 1);
        var options = new StreamingOptions { BootstrapServers = kafka.BootstrapServers, FlushInterval = flushInterval };
        return await RunAsync(options, db, prices, transport, schema, rate, duration, exportInterval, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs the load for <paramref name="duration"/> at <paramref name="rate"/> records/s.</summary>
    public static async Task<Result> RunAsync(StreamingOptions options, NpgsqlDataSource db, PriceCatalog? prices, IAnalyticsTransport transport, AnalyticsSchema schema,
        int rate, TimeSpan duration, TimeSpan exportInterval, TextWriter progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(progress);
        var engine = new StreamingEngine(options, db, prices);
        var exporter = new AnalyticsExporter(db, transport, schema);
        await exporter.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        var store = new ClickHouseUsageStore(transport, schema);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var consuming = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
        var exporting = exporter.RunAsync(exportInterval, stop.Token);
        while (engine.AssignedPartitions == 0 && !consuming.IsCompleted)
        {
            await Task.Delay(50, cancellationToken).ConfigureAwait(false); // group join first: not part of freshness
        }

        var acknowledged = new System.Collections.Concurrent.ConcurrentDictionary<int, long>();
        var latencies = new System.Collections.Concurrent.ConcurrentBag<double>();
        var clock = Stopwatch.StartNew();
        var probes = 0;
        var polling = Task.Run(async () =>
        {
            var next = 0;
            while (!stop.IsCancellationRequested)
            {
                if (acknowledged.TryGetValue(next, out var ackTicks))
                {
                    var account = "probe-" + next.ToString(CultureInfo.InvariantCulture);
                    var now = DateTimeOffset.UtcNow;
                    var points = await store.QueryUsageAsync(new UsageQuery(account, null, now.AddHours(-1).Date, now.Date.AddDays(1), UsageGranularity.Hour, []), stop.Token).ConfigureAwait(false);
                    if (points.Count > 0)
                    {
                        latencies.Add((clock.ElapsedTicks - ackTicks) * 1000.0 / Stopwatch.Frequency);
                        next++;
                        continue;
                    }
                }

                await Task.Delay(20, stop.Token).ConfigureAwait(false);
            }
        }, stop.Token);

        long sent = 0;
        using (var producer = new ProducerBuilder<string, byte[]>(options.KafkaSecurity.Apply(Metering.Ingest.Kafka.KafkaPartitioning.Apply(new ProducerConfig
        {
            BootstrapServers = options.BootstrapServers, EnableIdempotence = true, Acks = Acks.All, LingerMs = 5, CompressionType = CompressionType.Lz4,
        }))).Build())
        {
            var random = new Random(7);
            var lastProbe = TimeSpan.Zero;
            var lastReport = TimeSpan.Zero;
            while (clock.Elapsed < duration)
            {
                var time = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
                for (var i = 0; i < 100; i++)
                {
                    var account = "acct-" + random.Next(10_000).ToString(CultureInfo.InvariantCulture);
                    var line = $"{{\"id\":\"f-{sent}\",\"account\":\"{account}\",\"sku\":\"api.calls\",\"quantity\":\"1\",\"time\":\"{time}\"}}";
                    producer.Produce(options.Topic, new Message<string, byte[]> { Key = account, Value = Encoding.UTF8.GetBytes(line) });
                    sent++;
                }

                if (clock.Elapsed - lastProbe >= TimeSpan.FromMilliseconds(100))
                {
                    lastProbe = clock.Elapsed;
                    var n = probes++;
                    var account = "probe-" + n.ToString(CultureInfo.InvariantCulture);
                    var line = $"{{\"id\":\"p-{n}\",\"account\":\"{account}\",\"sku\":\"api.calls\",\"quantity\":\"1\",\"time\":\"{time}\"}}";
                    producer.Produce(options.Topic, new Message<string, byte[]> { Key = account, Value = Encoding.UTF8.GetBytes(line) },
                        r => acknowledged[n] = r.Error.IsError ? long.MaxValue : clock.ElapsedTicks);
                    sent++;
                }

                if (clock.Elapsed - lastReport >= TimeSpan.FromSeconds(2))
                {
                    lastReport = clock.Elapsed;
                    progress.WriteLine($"  {clock.Elapsed.TotalSeconds,5:F1}s sent {sent:N0}, engine read {engine.Read:N0}, probes seen {latencies.Count} of {probes}");
                }

                var ahead = TimeSpan.FromSeconds(sent / (double)rate) - clock.Elapsed;
                if (ahead > TimeSpan.Zero)
                {
                    await Task.Delay(ahead, cancellationToken).ConfigureAwait(false);
                }
            }

            producer.Flush(TimeSpan.FromSeconds(30));
        }

        var elapsed = clock.Elapsed;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (latencies.Count < probes && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(consuming, exporting, polling).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // the exporter and the poller end by cancellation
        }

        var sorted = latencies.Order().ToList();
        return new Result(sorted, sent, elapsed, probes - sorted.Count);
    }
}
