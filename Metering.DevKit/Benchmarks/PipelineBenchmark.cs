using System.Diagnostics;
using Confluent.Kafka;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Pipeline;
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
        /// <summary>The engine's stage times over the run (null for consume-only).</summary>
        public StageTimes? Stages { get; init; }

        /// <summary>From the engine's start to its first consumed record (group join, assignment, first fetch).</summary>
        public TimeSpan StartToFirstRecord { get; init; }

        /// <summary>Records per second.</summary>
        public double RecordsPerSecond => Records / Elapsed.TotalSeconds;
    }

    /// <summary>Every round's two runs and their medians.</summary>
    public sealed record Result(long Records, IReadOnlyList<Run> ConsumeOnly, IReadOnlyList<Run> Engine)
    {
        /// <summary>Median consume-only rate, records per second.</summary>
        public double ConsumeOnlyRecordsPerSecond => Measurement.Median(ConsumeOnly.Select(r => r.RecordsPerSecond));

        /// <summary>Median engine rate, records per second until the last record is committed.</summary>
        public double EngineRecordsPerSecond => Measurement.Median(Engine.Select(r => r.RecordsPerSecond));

        /// <summary>Engine over consume-only: the share of the bare consumer's speed the engine keeps.</summary>
        public double Ratio => EngineRecordsPerSecond / ConsumeOnlyRecordsPerSecond;

        /// <summary>Slowest and fastest consume-only rounds, records per second.</summary>
        public (double Min, double Max) ConsumeOnlySpread => (ConsumeOnly.Min(r => r.RecordsPerSecond), ConsumeOnly.Max(r => r.RecordsPerSecond));

        /// <summary>Slowest and fastest engine rounds, records per second.</summary>
        public (double Min, double Max) EngineSpread => (Engine.Min(r => r.RecordsPerSecond), Engine.Max(r => r.RecordsPerSecond));

        /// <summary>Median over the engine runs of each run's flush-transaction p99, milliseconds.</summary>
        public double FlushP99Milliseconds => Measurement.Median(Engine.Select(r => r.FlushP99Milliseconds));
    }

    /// <summary>
    /// Event time advances as fast as the engine is asked to ingest: a live edge producing at 400k records/s has that
    /// many records per second of event time, which sets how many windows a flush touches. The workload generator's
    /// default (10k/s) would spread the same records over 40x more windows.
    /// </summary>
    public const int DefaultRate = 400_000;

    /// <summary>
    /// The account skew of the benchmark's workload (the generator's default is 1.0): the embedded broker keeps only
    /// 5 MiB per partition, and under Zipf 1.0 the busiest account (10 % of all records) alone overflows its partition
    /// before the pre-filled topic is read, so the runs would measure a topic with records missing.
    /// </summary>
    public const double DefaultSkew = 0.6;

    /// <summary>
    /// What to run: <see cref="Rounds"/> rounds over <see cref="WorkloadFile"/> (generated from <see cref="Workload"/>
    /// when missing) in a topic of <see cref="Partitions"/> partitions on <see cref="Brokers"/> embedded brokers.
    /// </summary>
    public sealed record Setup(string WorkloadFile, WorkloadOptions Workload, int Partitions, int Brokers, int Rounds)
    {
        /// <summary>The engine's flush interval (default 1 s, the engine's own default).</summary>
        public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);

        /// <summary>The engine's hard cap on records per flush (default 1,000,000, the engine's own default).</summary>
        public int MaxRecordsPerFlush { get; init; } = 1_000_000;
    }

    /// <summary>
    /// The whole benchmark. Opens one fresh, migrated database per round first (<paramref name="openDatabase"/>, given
    /// the round from 1; they are disposed at the end), generates the workload file if it is missing, starts the
    /// embedded cluster, produces the workload into topic <c>usage</c>, refuses to measure if the broker's retention
    /// already dropped records, then runs the rounds: consume-only, then the engine into that round's database, each
    /// on a clean heap. One line per round on <paramref name="progress"/>.
    /// </summary>
    public static async Task<Result> RunAsync(Setup setup, AggregationPipelineOptions pipeline, PriceCatalog? prices,
        Func<int, CancellationToken, Task<NpgsqlDataSource>> openDatabase, TextWriter progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(setup);
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(openDatabase);
        ArgumentNullException.ThrowIfNull(progress);
        var databases = new List<NpgsqlDataSource>();
        try
        {
            for (var round = 1; round <= setup.Rounds; round++)
            {
                databases.Add(await openDatabase(round, cancellationToken).ConfigureAwait(false));
            }

            BenchmarkWorkload.Ensure(setup.WorkloadFile, setup.Workload, progress);
            return await RunRoundsAsync(setup, pipeline, prices, databases, progress, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var db in databases)
            {
                await db.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task<Result> RunRoundsAsync(Setup setup, AggregationPipelineOptions pipeline, PriceCatalog? prices,
        List<NpgsqlDataSource> databases, TextWriter progress, CancellationToken cancellationToken)
    {
        var (records, partitions, brokers) = (setup.Workload.Records, setup.Partitions, setup.Brokers);
        using var kafka = new EmbeddedKafkaCluster(brokers);
        kafka.CreateTopic("usage", partitions, brokers);
        kafka.CreateTopic("usage.dead-letters", Math.Min(partitions, 8), brokers);
        progress.WriteLine($"bench: producing {records:N0} records into embedded Kafka ({brokers} broker(s), {partitions} partitions)");
        await using (var input = File.OpenRead(setup.WorkloadFile))
        {
            await WorkloadProducer.ProduceAsync(kafka.BootstrapServers, "usage", input, null, cancellationToken).ConfigureAwait(false);
        }

        RequireAllHeld(kafka.BootstrapServers, "usage", partitions, records);
        var baseline = new List<Run>();
        var engine = new List<Run>();
        for (var round = 1; round <= setup.Rounds; round++)
        {
            Measurement.CleanHeap();
            baseline.Add(ConsumeOnly(kafka.BootstrapServers, "usage", records, progress, cancellationToken));
            Measurement.CleanHeap();
            var options = new StreamingOptions { BootstrapServers = kafka.BootstrapServers, ConsumerGroup = "bench-engine-" + round, Pipeline = pipeline,
                FlushInterval = setup.FlushInterval, MaxRecordsPerFlush = setup.MaxRecordsPerFlush };
            engine.Add(await EngineAsync(options, databases[round - 1], prices, records, cancellationToken).ConfigureAwait(false));
            progress.WriteLine($"bench round {round}/{setup.Rounds}: consume-only {baseline[^1].RecordsPerSecond:N0} records/s, engine {engine[^1].RecordsPerSecond:N0} records/s committed ({engine[^1].Flushes} flushes, flush p99 {engine[^1].FlushP99Milliseconds:F0} ms; first record {engine[^1].StartToFirstRecord.TotalSeconds:F2}s after the engine's start)");
            progress.WriteLine($"  engine's time from its start, {(engine[^1].StartToFirstRecord + engine[^1].Elapsed).TotalSeconds:F1}s: {engine[^1].Stages!.Describe(engine[^1].StartToFirstRecord + engine[^1].Elapsed)}");
        }

        return new Result(records, baseline, engine);
    }

    /// <summary>
    /// The embedded broker keeps 5 MiB per partition: if it already dropped records, every run would read fewer than
    /// were produced. Refuse to measure that.
    /// </summary>
    private static void RequireAllHeld(string bootstrapServers, string topic, int partitions, long records)
    {
        using var probe = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrapServers, GroupId = "bench-probe" }).Build();
        long held = 0;
        for (var p = 0; p < partitions; p++)
        {
            var marks = probe.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10));
            held += marks.High.Value - marks.Low.Value;
        }

        if (held != records)
        {
            throw new InvalidOperationException($"the embedded broker holds {held:N0} of {records:N0} records (its retention is 5 MiB per partition): use more --partitions or fewer --records");
        }
    }

    /// <summary>
    /// Consumes every message of <paramref name="topic"/> with a fresh group, touching each value, with the same
    /// consumer settings the engine uses; returns when <paramref name="expected"/> messages were read. Says how far it
    /// got on <paramref name="progress"/> every 5 s.
    /// </summary>
    public static Run ConsumeOnly(string bootstrapServers, string topic, long expected, TextWriter progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(progress);
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
                progress.WriteLine($"  consume-only: {read:N0} of {expected:N0} read, {consumer.Assignment.Count} partitions assigned");
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
        // The account directory, as `stream` and `run` give the engine: without it every flush re-inserts (ON CONFLICT)
        // every account it books, which measured 1-2 s of a loaded machine's ~7 s flush.
        await using var accounts = options.Accounts is null ? await Metering.Ledger.Accounts.AccountDirectory.StartAsync(db, null, TextWriter.Null, cancellationToken).ConfigureAwait(false) : null;
        options = accounts is null ? options : options with { Accounts = accounts };
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
        var stages = engine.Stages;
        return new Run("engine", expected, elapsed, engine.Flushes, Percentile(engine.FlushMilliseconds, 0.99))
        {
            Stages = stages,
            StartToFirstRecord = stages.FirstConsumed is { } first ? Stopwatch.GetElapsedTime(stages.Started, first) : TimeSpan.Zero,
        };
    }

    /// <summary>The <paramref name="p"/> quantile (nearest rank) of <paramref name="values"/>; 0 when empty.</summary>
    public static double Percentile(IReadOnlyCollection<double> values, double p)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            return 0;
        }

        return Measurement.NearestRank(values.Order().ToList(), p);
    }
}
