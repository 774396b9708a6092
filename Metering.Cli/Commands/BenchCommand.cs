using System.Diagnostics;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Interning;
using Metering.Analytics.ChDb;
using Metering.Analytics;
using Metering.Cli.Arguments;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.DevKit.Redis;
using Metering.DevKit.Workload;
using Metering.Ingest.Output;
using Metering.Ingest.Pipeline;
using Metering.Ingest.Streaming;

namespace Metering.Cli.Commands;

/// <summary>
/// <c>metering bench</c>: the end-to-end benchmark. File -> aggregates against decode-only of the same file,
/// alternated in the same process so both see the same machine, plus memory per aggregate key.
/// </summary>
public sealed class BenchCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["bench"];

    public string Summary => "end-to-end benchmark: file -> aggregates vs decode-only, and memory per key";

    public string Usage => "usage: metering bench [--file FILE] [--records N] [--rounds N] [--memory-keys N] [pipeline options]\n" +
        "       metering bench --pipeline [--records N] [--rounds N] [--partitions N] [--brokers N] [workload and ledger options]\n\n" +
        "  --freshness [--rate N] [--seconds S]   arrival -> queryable latency (Kafka -> PostgreSQL -> ClickHouse) under load\n" +
        "  --redis-dedup [--ids N] [--redis HOST:PORT]   shared dedup marks and lookups/s vs redis-benchmark -t set -P 16\n" +
        "  --pipeline                 Kafka (embedded) -> committed PostgreSQL totals vs a consume-only run of the same topic\n" +
        "                             (default 2,000,000 records, 128 partitions, 1 broker, --rate 400000, --skew 0.6)\n" +
        "  --file FILE                workload to read (generated with --records and seed 42 when missing;\n" +
        "                             default .metering/bench/usage-N.ndjson)\n" +
        "  --records N                records in a generated workload (default 10000000)\n" +
        "  --rounds N                 alternating rounds of decode-only and end-to-end (default 3; the median is reported)\n" +
        "  --memory-keys N            distinct keys for the memory-per-key measurement (default 10000000; 0 skips it)\n" +
        PipelineArguments.PipelineUsage;

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Has("pipeline"))
        {
            return await RunPipelineAsync(args, cancellationToken).ConfigureAwait(false);
        }

        if (args.Has("freshness"))
        {
            return await RunFreshnessAsync(args, cancellationToken).ConfigureAwait(false);
        }

        if (args.Has("redis-dedup"))
        {
            return await RunRedisDedupAsync(args, cancellationToken).ConfigureAwait(false);
        }

        var records = args.Int64("records", 10_000_000, 1);
        var file = args.String("file") ?? Path.Combine(".metering", "bench", $"usage-{records}.ndjson");
        var rounds = (int)args.Int64("rounds", 3, 1, 50);
        var memoryKeys = (int)args.Int64("memory-keys", 10_000_000, 0, 100_000_000);
        var (options, _) = PipelineArguments.Pipeline(args);
        args.RejectUnknown();
        var err = Console.Error;
        if (!File.Exists(file))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
            err.WriteLine($"bench: generating {records:N0} records -> {file}");
            using var stream = new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            new SyntheticWorkloadGenerator(new WorkloadOptions { Records = records }).Generate(stream).Save(file + ".truth.json");
        }

        var bytes = new FileInfo(file).Length;
        var decodeRates = new List<double>();
        var endToEndRates = new List<double>();
        long read = 0;
        for (var round = 1; round <= rounds; round++)
        {
            // Decode-only: the same decoder on the same file, the baseline of the ratio.
            CollectGarbage();
            var sw = Stopwatch.StartNew();
            await using (var source = Open(file))
            {
                var counters = await AggregationPipeline.DecodeOnlyAsync(source, new RecordCatalog(), options.Decoder, cancellationToken).ConfigureAwait(false);
                read = counters.Read;
            }

            decodeRates.Add(read / sw.Elapsed.TotalSeconds);

            PipelineResult result;
            CollectGarbage();
            await using (var source = Open(file))
            using (var deadLetters = new DeadLetterWriter(null))
            {
                result = await new AggregationPipeline(options, new RecordCatalog(), deadLetters).RunAsync(source, cancellationToken).ConfigureAwait(false);
            }

            endToEndRates.Add(result.RecordsPerSecond);
            err.WriteLine($"bench round {round}/{rounds}: decode-only {decodeRates[^1]:N0} records/s, end-to-end {endToEndRates[^1]:N0} records/s ({result.Rows.Count:N0} keys, {result.Balance()})");
        }

        var decode = Median(decodeRates);
        var e2e = Median(endToEndRates);
        var @out = Console.Out;
        @out.WriteLine($"file: {file} ({read:N0} records, {bytes / 1e6:N1} MB), {Environment.ProcessorCount} cores, median of {rounds} alternating rounds");
        @out.WriteLine($"decode-only:             {decode,12:N0} records/s  {decode * bytes / read / 1e6,8:N1} MB/s");
        @out.WriteLine($"file -> aggregates:      {e2e,12:N0} records/s  {e2e * bytes / read / 1e6,8:N1} MB/s");
        @out.WriteLine($"end-to-end / decode-only: {e2e / decode,11:F2}");
        if (memoryKeys > 0)
        {
            MeasureMemoryPerKey(memoryKeys, @out);
        }

        return 0;
    }

    /// <summary>
    /// <c>--pipeline</c>: produces one workload into an embedded topic, then alternates consume-only and engine runs
    /// (fresh group each; the engine with a fresh database) and reports medians and their ratio.
    /// </summary>
    private static async Task<int> RunPipelineAsync(CliArguments args, CancellationToken cancellationToken)
    {
        // Event time advances as fast as the engine is asked to ingest (400k records/s by default): a live edge
        // producing at that rate has that many records per second of event time, which sets how many windows a
        // flush touches. The file benchmark's default (10k/s) would spread the same records over 40x more windows.
        // The account skew defaults to 0.6 here (1.0 elsewhere): the embedded broker keeps only 5 MiB per partition,
        // and under Zipf 1.0 the busiest account (10 % of all records) alone overflows its partition before the
        // pre-filled topic is read, so the runs would measure a topic with records missing.
        var rateGiven = args.Has("rate");
        var skewGiven = args.Has("skew");
        var workload = PipelineArguments.Workload(args) with { Records = args.Int64("records", 2_000_000, 1) };
        workload = rateGiven ? workload : workload with { Rate = 400_000 };
        workload = skewGiven ? workload : workload with { Skew = 0.6 };
        var records = workload.Records;
        var rounds = (int)args.Int64("rounds", 3, 1, 50);
        var partitions = (int)args.Int64("partitions", 128, 1, 1024);
        var brokers = (int)args.Int64("brokers", 1, 1, 9);
        var dir = args.String("dir", Path.Combine(".metering", "bench"))!;
        var (pipeline, _) = PipelineArguments.Pipeline(args);
        var prices = LedgerArguments.Prices(args);
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd_HHmmss", System.Globalization.CultureInfo.InvariantCulture);
        args.RejectUnknown(LedgerArguments.Options);
        var databases = new List<Npgsql.NpgsqlDataSource>();
        for (var round = 1; round <= rounds; round++)
        {
            databases.Add(await LedgerArguments.OpenAsync(args, cancellationToken, $"bench_{stamp}_{round}").ConfigureAwait(false));
        }
        var err = Console.Error;
        var file = Path.Combine(dir, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"pipeline-{records}-{workload.Accounts}-{workload.Rate}-{workload.Skew}-{workload.Seed}.ndjson"));
        Directory.CreateDirectory(dir);
        if (!File.Exists(file))
        {
            err.WriteLine($"bench: generating {records:N0} records -> {file}");
            using var stream = new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            new SyntheticWorkloadGenerator(workload).Generate(stream).Save(file + ".truth.json");
        }

        using var kafka = new EmbeddedKafkaCluster(brokers);
        kafka.CreateTopic("usage", partitions, brokers);
        kafka.CreateTopic("usage.dead-letters", Math.Min(partitions, 8), brokers);
        err.WriteLine($"bench: producing {records:N0} records into embedded Kafka ({brokers} broker(s), {partitions} partitions)");
        await using (var input = File.OpenRead(file))
        {
            await WorkloadProducer.ProduceAsync(kafka.BootstrapServers, "usage", input, null, cancellationToken).ConfigureAwait(false);
        }

        // The embedded broker keeps 5 MiB per partition: if it already dropped records, every run would read fewer
        // than were produced. Refuse to measure that.
        using (var probe = new Confluent.Kafka.ConsumerBuilder<Confluent.Kafka.Ignore, Confluent.Kafka.Ignore>(new Confluent.Kafka.ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = "bench-probe" }).Build())
        {
            long held = 0;
            for (var p = 0; p < partitions; p++)
            {
                var marks = probe.QueryWatermarkOffsets(new Confluent.Kafka.TopicPartition("usage", p), TimeSpan.FromSeconds(10));
                held += marks.High.Value - marks.Low.Value;
            }

            if (held != records)
            {
                throw new InvalidOperationException($"the embedded broker holds {held:N0} of {records:N0} records (its retention is 5 MiB per partition): use more --partitions or fewer --records");
            }
        }

        var baseline = new List<PipelineBenchmark.Run>();
        var engine = new List<PipelineBenchmark.Run>();
        for (var round = 1; round <= rounds; round++)
        {
            CollectGarbage();
            baseline.Add(PipelineBenchmark.ConsumeOnly(kafka.BootstrapServers, "usage", records, cancellationToken));
            CollectGarbage();
            var options = new StreamingOptions { BootstrapServers = kafka.BootstrapServers, ConsumerGroup = "bench-engine-" + round, Pipeline = pipeline };
            engine.Add(await PipelineBenchmark.EngineAsync(options, databases[round - 1], prices, records, cancellationToken).ConfigureAwait(false));
            err.WriteLine($"bench round {round}/{rounds}: consume-only {baseline[^1].RecordsPerSecond:N0} records/s, engine {engine[^1].RecordsPerSecond:N0} records/s committed ({engine[^1].Flushes} flushes, flush p99 {engine[^1].FlushP99Milliseconds:F0} ms)");
        }

        foreach (var db in databases)
        {
            await db.DisposeAsync().ConfigureAwait(false);
        }

        var consumeRate = Median(baseline.Select(r => r.RecordsPerSecond).ToList());
        var engineRate = Median(engine.Select(r => r.RecordsPerSecond).ToList());
        var @out = Console.Out;
        @out.WriteLine($"pipeline: {records:N0} records ({workload.Accounts:N0} accounts, {workload.Rate:N0} records/s of event time), {partitions} partitions, {brokers} embedded broker(s), {Environment.ProcessorCount} cores, price book {prices?.List?.Id ?? "none"}, median of {rounds} alternating rounds");
        @out.WriteLine($"consume-only:                {consumeRate,12:N0} records/s");
        @out.WriteLine($"Kafka -> committed totals:   {engineRate,12:N0} records/s");
        @out.WriteLine($"engine / consume-only:       {engineRate / consumeRate,12:F2}");
        @out.WriteLine($"flush transaction p99:       {Median(engine.Select(r => r.FlushP99Milliseconds).ToList()),12:F0} ms (median over rounds)");
        return 0;
    }

    /// <summary>
    /// <c>--freshness</c>: arrival-to-queryable latency under a steady load, on embedded Kafka, PostgreSQL and chDB.
    /// </summary>
    private static async Task<int> RunFreshnessAsync(CliArguments args, CancellationToken cancellationToken)
    {
        var rate = (int)args.Int64("rate", 100_000, 100, 10_000_000);
        var seconds = (int)args.Int64("seconds", 20, 2, 3_600);
        var exportInterval = args.Duration("export-interval", TimeSpan.FromMilliseconds(200));
        var flushInterval = args.Duration("flush-interval", TimeSpan.FromSeconds(1));
        var clickhouseDir = args.String("clickhouse-dir", ChDbTransport.DefaultDataDirectory)!;
        var prices = LedgerArguments.Prices(args);
        var database = "fresh_" + DateTime.UtcNow.ToString("yyyyMMdd_HHmmss", System.Globalization.CultureInfo.InvariantCulture);
        args.RejectUnknown(LedgerArguments.Options);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken, database).ConfigureAwait(false);
        using var kafka = new EmbeddedKafkaCluster(brokers: 1);
        kafka.CreateTopic("usage", 32, 1);
        kafka.CreateTopic("usage.dead-letters", 4, 1);
        using var transport = new ChDbTransport(clickhouseDir);
        var options = new StreamingOptions { BootstrapServers = kafka.BootstrapServers, FlushInterval = flushInterval };
        Console.Error.WriteLine($"bench: freshness at {rate:N0} records/s for {seconds}s (flush every {flushInterval.TotalMilliseconds:F0} ms, export every {exportInterval.TotalMilliseconds:F0} ms)");
        var result = await FreshnessBenchmark.RunAsync(options, db, prices, transport, new AnalyticsSchema(database), rate, TimeSpan.FromSeconds(seconds), exportInterval, Console.Error, cancellationToken).ConfigureAwait(false);
        var l = result.LatenciesMs;
        double P(double q) => l.Count == 0 ? double.NaN : l[Math.Clamp((int)Math.Ceiling(l.Count * q) - 1, 0, l.Count - 1)];
        Console.Out.WriteLine($"freshness: {result.Sent:N0} records in {result.Elapsed.TotalSeconds:F1}s = {result.Sent / result.Elapsed.TotalSeconds:N0} records/s sent; {l.Count} probes queryable, {result.Missing} not within 30 s after the load");
        Console.Out.WriteLine($"arrival -> queryable: p50 {P(0.5):N0} ms, p99 {P(0.99):N0} ms, max {(l.Count == 0 ? double.NaN : l[^1]):N0} ms");
        return result.Missing == 0 ? 0 : 1;
    }

    /// <summary>
    /// <c>--redis-dedup</c>: the shared dedup horizon's marks and lookups per second against
    /// <c>redis-benchmark -t set -P 16</c> on the same server, alternated in rounds; a private redis-server unless --redis.
    /// </summary>
    private static async Task<int> RunRedisDedupAsync(CliArguments args, CancellationToken cancellationToken)
    {
        var ids = (int)args.Int64("ids", 1_000_000, 10_000, 100_000_000);
        var rounds = (int)args.Int64("rounds", 3, 1, 50);
        var configured = args.String("redis");
        args.RejectUnknown();
        using var embedded = configured is null ? await EmbeddedRedis.StartAsync(cancellationToken).ConfigureAwait(false) : null;
        var endpoint = configured ?? embedded!.Endpoint;
        var options = StackExchange.Redis.ConfigurationOptions.Parse(endpoint);
        using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        System.Net.DnsEndPoint? server;
        var host = "127.0.0.1";
        var port = embedded?.Port ?? 6379;
        if (options.EndPoints.FirstOrDefault() is System.Net.IPEndPoint ip)
        {
            (host, port) = (ip.Address.ToString(), ip.Port);
        }
        else if ((server = options.EndPoints.FirstOrDefault() as System.Net.DnsEndPoint) is not null)
        {
            (host, port) = (server.Host, server.Port);
        }

        var results = new List<RedisDedupBenchmark.Round>();
        for (var round = 1; round <= rounds; round++)
        {
            var r = await RedisDedupBenchmark.RunRoundAsync(redis, host, port, ids, round).ConfigureAwait(false);
            results.Add(r);
            Console.Error.WriteLine($"bench round {round}/{rounds}: marks {r.MarksPerSecond:N0}/s, lookups {r.LookupsPerSecond:N0}/s, redis-benchmark SET -P 16 {r.RedisBenchmarkSetsPerSecond:N0}/s");
        }

        var baseline = Median(results.Select(r => r.RedisBenchmarkSetsPerSecond).ToList());
        var marks = Median(results.Select(r => r.MarksPerSecond).ToList());
        var lookups = Median(results.Select(r => r.LookupsPerSecond).ToList());
        var @out = Console.Out;
        @out.WriteLine($"redis dedup: {ids:N0} ids per round, server {host}:{port}, median of {rounds} rounds");
        @out.WriteLine($"redis-benchmark -t set -P 16:  {baseline,12:N0} SET/s");
        @out.WriteLine($"marks (SADD per event minute): {marks,12:N0} ids/s   ratio {marks / baseline:F2}");
        @out.WriteLine($"lookups (SMISMEMBER per minute):{lookups,12:N0} ids/s   ratio {lookups / baseline:F2}");
        return 0;
    }

    /// <summary>Starts each measured run on a clean heap: the previous run's hundreds of MiB of tables are garbage.</summary>
    private static void CollectGarbage()
    {
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
    }

    private static FileStream Open(string file) =>
        new(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan | FileOptions.Asynchronous);

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>Fills one generation with <paramref name="keys"/> distinct keys and reports managed memory per key.</summary>
    private static void MeasureMemoryPerKey(int keys, TextWriter @out)
    {
        GC.Collect(2, GCCollectionMode.Forced, true, true);
        var before = GC.GetTotalMemory(true);
        var aggregator = new Aggregator(new AggregatorOptions { KeyLimit = keys });
        var writer = aggregator.CreateWriter();
        writer.BeginBatch();
        var record = new Aggregates.Records.UsageRecord { QuantityNanos = 1_000_000_000, TimeTicks = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc).Ticks };
        for (var k = 0; k < keys; k++)
        {
            record.AccountId = (k % 1_000_000) + 1;
            record.SkuId = (k / 1_000_000) + 1;
            if (writer.Add(in record) != AddStatus.Added)
            {
                throw new InvalidOperationException("memory measurement hit the key limit");
            }
        }

        writer.EndBatch();
        var after = GC.GetTotalMemory(true);
        var perKey = (double)(after - before) / keys;
        @out.WriteLine($"memory: {keys:N0} active keys in {(after - before) / 1048576.0:N0} MiB = {perKey:N1} bytes/key (64-byte slot + 25% probing headroom)");
        GC.KeepAlive(aggregator);
    }
}
