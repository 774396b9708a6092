using System.Diagnostics;
using Confluent.Kafka;
using Metering.Ingest.Streaming;
using Metering.Rating.PriceBooks;
using Npgsql;

namespace Metering.DevKit.Benchmarks;

/// <summary>
/// The pipeline benchmark: one topic, produced once, read by two kinds of run alternated in the same process so
/// both see the same (noisy) machine: consume-only (the baseline: a consumer that only touches each message) and
/// the full engine (decode, dedup, aggregate, rate, commit to PostgreSQL), each with a fresh consumer group, the
/// engine with a fresh database. The engine's rate counts until the last record is COMMITTED in PostgreSQL.
/// </summary>
public static class PipelineBenchmark
{
    /// <summary>One timed run.</summary>
    public sealed record Run(string Kind, long Records, TimeSpan Elapsed, long Flushes, double FlushP99Milliseconds)
    {
        /// <summary>Records per second.</summary>
        public double RecordsPerSecond => Records / Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Consumes every message of <paramref name="topic"/> with a fresh group, touching each value, with the same
    /// consumer settings the engine uses; returns when <paramref name="expected"/> messages were read.
    /// </summary>
    public static Run ConsumeOnly(string bootstrapServers, string topic, long expected, CancellationToken cancellationToken)
    {
        var config = StreamingEngine.ConsumerConfig(bootstrapServers, "bench-consume-only-" + Guid.NewGuid().ToString("N"));
        // Positions as the engine sets them (the beginning, explicitly), so a retention gap fails this run too.
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config)
            .SetPartitionsAssignedHandler((_, assigned) => assigned.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)))
            .Build();
        consumer.Subscribe(topic);
        long read = 0, bytes = 0;
        Stopwatch? clock = null;
        var lastReport = Stopwatch.StartNew();
        while (read < expected)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (lastReport.Elapsed > TimeSpan.FromSeconds(5))
            {
                Console.Error.WriteLine($"  consume-only: {read:N0} of {expected:N0} read, {consumer.Assignment.Count} partitions assigned");
                lastReport.Restart();
            }

            ConsumeResult<Ignore, byte[]> result;
            try
            {
                result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            }
            catch (ConsumeException e) when (e.Error.Code is ErrorCode.Local_AutoOffsetReset or ErrorCode.OffsetOutOfRange)
            {
                throw new InvalidOperationException($"the broker deleted records of '{topic}' before they were read ({e.Error.Reason}); the embedded broker keeps 5 MiB per partition: use more partitions or fewer records", e);
            }

            if (result is { Message: not null })
            {
                clock ??= Stopwatch.StartNew(); // from the first record, as the engine's clock (assignment excluded)
                read++;
                bytes += result.Message.Value?.Length ?? 0;
            }
        }

        var elapsed = clock?.Elapsed ?? TimeSpan.Zero;
        consumer.Close();
        GC.KeepAlive(bytes);
        return new Run("consume-only", read, elapsed, 0, 0);
    }

    /// <summary>Runs the engine over the whole topic with a fresh group until <paramref name="expected"/> records are committed.</summary>
    public static async Task<Run> EngineAsync(StreamingOptions options, NpgsqlDataSource db, PriceCatalog? prices, long expected, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var engine = new StreamingEngine(options, db, prices);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var consuming = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
        Stopwatch? clock = null;
        while (true)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(clock is null ? 5 : 50), cancellationToken).ConfigureAwait(false);
            if (clock is null && engine.Read > 0)
            {
                clock = Stopwatch.StartNew();
            }

            if (consuming.IsFaulted)
            {
                await consuming.ConfigureAwait(false); // rethrows
            }

            if (clock is not null && await PipelineRun.CommittedAsync(db, options, cancellationToken).ConfigureAwait(false) >= expected)
            {
                break;
            }
        }

        var elapsed = clock.Elapsed;
        await stop.CancelAsync().ConfigureAwait(false);
        await consuming.ConfigureAwait(false);
        return new Run("engine", expected, elapsed, engine.Flushes, Percentile(engine.FlushMilliseconds, 0.99));
    }

    /// <summary>The <paramref name="p"/> quantile (nearest rank) of <paramref name="values"/>; 0 when empty.</summary>
    public static double Percentile(IReadOnlyCollection<double> values, double p)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            return 0;
        }

        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(sorted.Count * p) - 1, 0, sorted.Count - 1)];
    }
}
