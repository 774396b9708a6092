using System.Diagnostics;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Flush;
using Metering.Rating.PriceBooks;
using Npgsql;

namespace Metering.DevKit.Benchmarks;

/// <summary>
/// The whole pipeline in one process: a load generator produces a synthetic workload into Kafka while the
/// streaming engine consumes, rates and flushes it to PostgreSQL; returns when every record is committed.
/// </summary>
public static class PipelineRun
{
    /// <summary>What one run did.</summary>
    public sealed record Result(long Records, TimeSpan Elapsed, long Flushes, double FlushP99Milliseconds)
    {
        /// <summary>From the run's start (before the engine is built) to the first record consumed; null if none was.</summary>
        public TimeSpan? StartToFirstConsume { get; init; }

        /// <summary>From the run's start to the first flush committed in PostgreSQL; null if none was.</summary>
        public TimeSpan? StartToFirstCommit { get; init; }

        /// <summary>When the run started (<see cref="Stopwatch.GetTimestamp"/>), before the engine was built.</summary>
        public long Started { get; init; }

        /// <summary>The engine's stage times over the run.</summary>
        public required StageTimes Stages { get; init; }
    }

    /// <summary>Produces <paramref name="workloadFile"/> and consumes it until <paramref name="expectedRecords"/> are committed.</summary>
    public static async Task<Result> RunAsync(StreamingOptions options, NpgsqlDataSource db, PriceCatalog? prices, string workloadFile, long expectedRecords, TextWriter progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(progress);
        var clock = Stopwatch.StartNew();
        var started = Stopwatch.GetTimestamp();
        var engine = new StreamingEngine(options, db, prices);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var consuming = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
        long produced = 0;
        var producing = Task.Run(async () =>
        {
            await using var input = File.OpenRead(workloadFile);
            await WorkloadProducer.ProduceAsync(options.BootstrapServers, options.Topic, input, new Progress<long>(n => Interlocked.Exchange(ref produced, n)), stop.Token).ConfigureAwait(false);
            Interlocked.Exchange(ref produced, expectedRecords);
        }, stop.Token);

        var lastRead = 0L;
        var lastTime = TimeSpan.Zero;
        while (true)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            var committed = await CommittedAsync(db, options, cancellationToken).ConfigureAwait(false);
            var read = engine.Read;
            var now = clock.Elapsed;
            var rate = (read - lastRead) / Math.Max((now - lastTime).TotalSeconds, 1e-9);
            (lastRead, lastTime) = (read, now);
            progress.WriteLine($"  {now.TotalSeconds,6:F1}s  produced {Interlocked.Read(ref produced),12:N0}  consumed {read,12:N0}  committed {committed,12:N0}  lag {Math.Max(0, Interlocked.Read(ref produced) - read),10:N0}  {rate,10:N0} records/s");
            if (committed + engine.LostRecords >= expectedRecords)
            {
                break; // all there (or reported lost: verify then fails, naming the offsets)
            }

            if (producing.IsFaulted || consuming.IsFaulted)
            {
                await stop.CancelAsync().ConfigureAwait(false);
                await Task.WhenAll(producing, consuming).ConfigureAwait(false); // rethrows the failure
            }
        }

        var elapsed = clock.Elapsed;
        await producing.ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        await consuming.ConfigureAwait(false);
        var flushes = engine.FlushMilliseconds.Order().ToList();
        var p99 = flushes.Count == 0 ? 0 : flushes[Math.Min(flushes.Count - 1, (int)Math.Ceiling(flushes.Count * 0.99) - 1)];
        var stages = engine.Stages;
        return new Result(expectedRecords, elapsed, engine.Flushes, p99)
        {
            Stages = stages,
            Started = started,
            StartToFirstConsume = stages.FirstConsumed is { } firstConsumed ? Stopwatch.GetElapsedTime(started, firstConsumed) : null,
            StartToFirstCommit = stages.FirstCommitted is { } firstCommitted ? Stopwatch.GetElapsedTime(started, firstCommitted) : null,
        };
    }

    /// <summary>Records committed to the ledger (sum of conservation.read; <see cref="LedgerProgress.CommittedRecordsAsync"/>).</summary>
    public static async Task<long> CommittedAsync(NpgsqlDataSource db, StreamingOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(options);
        return await LedgerProgress.CommittedRecordsAsync(db, options.ConsumerGroup, options.Topic, cancellationToken).ConfigureAwait(false);
    }
}
