using System.Globalization;
using Metering.Analytics;
using Metering.Analytics.ChDb;
using Metering.Cli.Arguments;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Redis;
using Metering.DevKit.Workload;

namespace Metering.Cli.Commands;

/// <summary>
/// <c>metering bench</c>: reads the options, runs one of Metering.DevKit's benchmarks (progress on stderr) and prints
/// its result on stdout. README.md quotes these lines and scripts may parse them: change them only with both.
/// </summary>
public sealed class BenchCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["bench"];

    public string Summary => "end-to-end benchmark: file -> aggregates vs decode-only, and memory per key";

    public string Usage => "usage: metering bench [--file FILE] [--records N] [--rounds N] [--memory-keys N] [pipeline options]\n" +
        "       metering bench --pipeline [--records N] [--rounds N] [--partitions N] [--brokers N] [workload and ledger options]\n\n" +
        "  --freshness [--rate N] [--seconds S]   arrival -> queryable latency (Kafka -> PostgreSQL -> ClickHouse) under load\n" +
        "  --redis-dedup [--ids N] [--redis HOST:PORT]   shared dedup marks and lookups/s vs redis-benchmark -t set -P 16\n" +
        "  --export [--rows N] [--rounds N] [--clickhouse-dir DIR]   outbox -> chDB rows/s (a whole export pass) vs chDB's own\n" +
        "                             INSERT ... SELECT from an Arrow file of the same rows (default 1,000,000 rows, 3 rounds)\n" +
        "  --accounts N [ledger options]   the account directory with N accounts: load time, bytes per account, NOTIFY delay\n" +
        "  --pipeline                 Kafka (embedded) -> committed PostgreSQL totals vs a consume-only run of the same topic\n" +
        "                             (default 2,000,000 records, 128 partitions, 1 broker, --rate 400000, --skew 0.6)\n" +
        "  --catch-up                 the same on the main job's topology (3 brokers, 32 partitions): a 2 M-record backlog,\n" +
        "                             then the engine started on it; prints where the engine's time went per stage\n" +
        "  --meters                   (pipeline, catch-up) the main job's mix: 7 of 15 SKUs metered by max, min, count,\n" +
        "                             time_weighted, percentile, latest, unique_count (docs/meters.md); compare without it\n" +
        "  --flush-interval D, --max-records-per-flush N   the engine's flush cadence (pipeline, catch-up; default 1s, 1000000)\n" +
        "  --file FILE                workload to read (generated with --records and seed 42 when missing;\n" +
        "                             default .metering/bench/usage-N.ndjson)\n" +
        "  --records N                records in a generated workload (default 10000000)\n" +
        "  --rounds N                 alternating rounds of decode-only and end-to-end (default 3; the median is reported)\n" +
        "  --memory-keys N            distinct keys for the memory-per-key measurement (default 10000000; 0 skips it)\n" +
        PipelineArguments.PipelineUsage;

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        return args.Has("pipeline") || args.Has("catch-up") ? await RunPipelineAsync(args, cancellationToken).ConfigureAwait(false)
            : args.Has("freshness") ? await RunFreshnessAsync(args, cancellationToken).ConfigureAwait(false)
            : args.Has("redis-dedup") ? await RunRedisDedupAsync(args, cancellationToken).ConfigureAwait(false)
            : args.Has("export") ? await RunExportAsync(args, cancellationToken).ConfigureAwait(false)
            : args.Has("accounts") ? await RunAccountsAsync(args, cancellationToken).ConfigureAwait(false)
            : await RunFileAsync(args, cancellationToken).ConfigureAwait(false);
    }

    /// <summary><see cref="AccountDirectoryMeasurement"/> in a fresh database of the ledger.</summary>
    private static async Task<int> RunAccountsAsync(CliArguments args, CancellationToken cancellationToken)
    {
        var accounts = (int)args.Int64("accounts", 1_000_000, 1, 100_000_000);
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd_HHmmss", CultureInfo.InvariantCulture);
        args.RejectUnknown(LedgerArguments.Options);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken, $"bench_accounts_{stamp}").ConfigureAwait(false);
        var r = await AccountDirectoryMeasurement.RunAsync(db, accounts, cancellationToken).ConfigureAwait(false);
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"accounts: {r.Accounts:N0} in the directory: first load {r.FirstLoad.TotalMilliseconds:F0} ms, {r.BytesPerAccount:F0} bytes per account held ({r.BytesPerAccount * r.Accounts / 1048576:F1} MiB; twice that during a reload), a new account visible {r.NewAccountVisible.TotalMilliseconds:F0} ms after its commit (NOTIFY; a reload takes {r.Reload.TotalMilliseconds:F0} ms)"));
        return 0;
    }

    /// <summary>The default: <see cref="FileBenchmark"/>, then <see cref="MemoryPerKeyMeasurement"/> unless --memory-keys 0.</summary>
    private static async Task<int> RunFileAsync(CliArguments args, CancellationToken cancellationToken)
    {
        var records = args.Int64("records", 10_000_000, 1);
        var file = args.String("file") ?? Path.Combine(".metering", "bench", $"usage-{records}.ndjson");
        var rounds = (int)args.Int64("rounds", 3, 1, 50);
        var memoryKeys = (int)args.Int64("memory-keys", 10_000_000, 0, 100_000_000);
        var (options, _) = PipelineArguments.Pipeline(args);
        PipelineArguments.RefuseAccountRejection(options, "bench file");
        args.RejectUnknown();
        BenchmarkWorkload.Ensure(file, new WorkloadOptions { Records = records }, Console.Error);
        var r = await FileBenchmark.RunAsync(file, options, rounds, Console.Error, cancellationToken).ConfigureAwait(false);
        var @out = Console.Out;
        @out.WriteLine($"file: {file} ({r.Records:N0} records, {r.Bytes / 1e6:N1} MB), {Environment.ProcessorCount} cores, median of {rounds} alternating rounds");
        @out.WriteLine($"decode-only:             {r.DecodeRecordsPerSecond,12:N0} records/s  {r.DecodeMegabytesPerSecond,8:N1} MB/s");
        @out.WriteLine($"file -> aggregates:      {r.EndToEndRecordsPerSecond,12:N0} records/s  {r.EndToEndMegabytesPerSecond,8:N1} MB/s");
        @out.WriteLine($"end-to-end / decode-only: {r.Ratio,11:F2}");
        if (memoryKeys > 0)
        {
            var m = MemoryPerKeyMeasurement.Measure(memoryKeys);
            @out.WriteLine($"memory: {m.Keys:N0} active keys in {m.Mebibytes:N0} MiB = {m.BytesPerKey:N1} bytes/key (64-byte slot + 25% probing headroom)");
        }

        return 0;
    }

    /// <summary><c>--pipeline</c>: <see cref="PipelineBenchmark"/>, each round's engine run into a fresh database.</summary>
    private static async Task<int> RunPipelineAsync(CliArguments args, CancellationToken cancellationToken)
    {
        // Catch-up: the backlog an outage leaves, on the main job's topology (`metering run`: 3 brokers, 32 partitions).
        var catchUp = args.Has("catch-up");
        var kind = catchUp ? "catch-up" : "pipeline";
        var rateGiven = args.Has("rate");
        var skewGiven = args.Has("skew");
        var workload = PipelineArguments.Workload(args) with { Records = args.Int64("records", 2_000_000, 1) };
        workload = rateGiven ? workload : workload with { Rate = PipelineBenchmark.DefaultRate };
        workload = skewGiven ? workload : workload with { Skew = PipelineBenchmark.DefaultSkew };
        // The main job's mix: seven of fifteen SKUs metered by max, min, count, time_weighted, percentile, latest and unique_count (docs/meters.md).
        workload = workload with { MeteredSkus = args.Has("meters") };
        var rounds = (int)args.Int64("rounds", 3, 1, 50);
        var partitions = (int)args.Int64("partitions", catchUp ? 32 : 128, 1, 1024);
        var brokers = (int)args.Int64("brokers", catchUp ? 3 : 1, 1, 9);
        var dir = args.String("dir", Path.Combine(".metering", "bench"))!;
        var flushInterval = args.Duration("flush-interval", TimeSpan.FromSeconds(1));
        var maxRecordsPerFlush = (int)args.Int64("max-records-per-flush", 1_000_000, 1, 100_000_000);
        var (pipeline, _) = PipelineArguments.Pipeline(args);
        PipelineArguments.RefuseAccountRejection(pipeline, "bench pipeline");
        var prices = LedgerArguments.Prices(args);
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd_HHmmss", CultureInfo.InvariantCulture);
        args.RejectUnknown(LedgerArguments.Options);
        var file = Path.Combine(dir, string.Create(CultureInfo.InvariantCulture, $"pipeline-{workload.Records}-{workload.Accounts}-{workload.Rate}-{workload.Skew}-{workload.Seed}{(workload.MeteredSkus ? "-meters" : "")}.ndjson"));
        var r = await PipelineBenchmark.RunAsync(new PipelineBenchmark.Setup(file, workload, partitions, brokers, rounds) { FlushInterval = flushInterval, MaxRecordsPerFlush = maxRecordsPerFlush }, pipeline, prices,
            (round, ct) => LedgerArguments.OpenAsync(args, ct, $"bench_{stamp}_{round}"), Console.Error, cancellationToken).ConfigureAwait(false);
        var @out = Console.Out;
        @out.WriteLine($"{kind}{(workload.MeteredSkus ? " with the meter mix" : "")}: {r.Records:N0} records ({workload.Accounts:N0} accounts, {workload.Rate:N0} records/s of event time), {partitions} partitions, {brokers} embedded broker(s), {Environment.ProcessorCount} cores, price book {prices?.List?.Id ?? "none"}, median of {rounds} alternating rounds");
        @out.WriteLine($"consume-only:                {r.ConsumeOnlyRecordsPerSecond,12:N0} records/s  (rounds: {Rounds(r.ConsumeOnly)}; spread {r.ConsumeOnlySpread.Min:N0}..{r.ConsumeOnlySpread.Max:N0})");
        @out.WriteLine($"Kafka -> committed totals:   {r.EngineRecordsPerSecond,12:N0} records/s  (rounds: {Rounds(r.Engine)}; spread {r.EngineSpread.Min:N0}..{r.EngineSpread.Max:N0})");
        @out.WriteLine($"engine / consume-only:       {r.Ratio,12:F2}");
        @out.WriteLine($"flush transaction p99:       {r.FlushP99Milliseconds,12:F0} ms (median over rounds)");
        var median = r.Engine.OrderBy(e => e.RecordsPerSecond).ElementAt(r.Engine.Count / 2);
        @out.WriteLine($"engine waits (median round): first record {median.StartToFirstRecord.TotalSeconds:F2}s after start; {median.Stages!.Describe(median.StartToFirstRecord + median.Elapsed)}");
        return 0;
    }

    private static string Rounds(IEnumerable<PipelineBenchmark.Run> runs) => string.Join(", ", runs.Select(r => r.RecordsPerSecond.ToString("N0", CultureInfo.InvariantCulture)));

    /// <summary><c>--freshness</c>: <see cref="FreshnessBenchmark"/> on embedded Kafka, PostgreSQL and chDB; exit 1 if a probe never became queryable.</summary>
    private static async Task<int> RunFreshnessAsync(CliArguments args, CancellationToken cancellationToken)
    {
        var rate = (int)args.Int64("rate", 100_000, 100, 10_000_000);
        var seconds = (int)args.Int64("seconds", 20, 2, 3_600);
        var exportInterval = args.Duration("export-interval", TimeSpan.FromMilliseconds(200));
        var flushInterval = args.Duration("flush-interval", TimeSpan.FromSeconds(1));
        var clickhouseDir = args.String("clickhouse-dir", ChDbTransport.DefaultDataDirectory)!;
        var prices = LedgerArguments.Prices(args);
        var database = "fresh_" + DateTime.UtcNow.ToString("yyyyMMdd_HHmmss", CultureInfo.InvariantCulture);
        args.RejectUnknown(LedgerArguments.Options);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken, database).ConfigureAwait(false);
        using var transport = new ChDbTransport(clickhouseDir);
        Console.Error.WriteLine($"bench: freshness at {rate:N0} records/s for {seconds}s (flush every {flushInterval.TotalMilliseconds:F0} ms, export every {exportInterval.TotalMilliseconds:F0} ms)");
        var r = await FreshnessBenchmark.RunOnEmbeddedKafkaAsync(db, prices, transport, new AnalyticsSchema(database), rate, TimeSpan.FromSeconds(seconds), flushInterval, exportInterval, Console.Error, cancellationToken).ConfigureAwait(false);
        Console.Out.WriteLine($"freshness: {r.Sent:N0} records in {r.Elapsed.TotalSeconds:F1}s = {r.SentPerSecond:N0} records/s sent; {r.LatenciesMs.Count} probes queryable, {r.Missing} not within 30 s after the load");
        Console.Out.WriteLine($"arrival -> queryable: p50 {r.P50Milliseconds:N0} ms, p99 {r.P99Milliseconds:N0} ms, max {r.MaxMilliseconds:N0} ms");
        return r.Missing == 0 ? 0 : 1;
    }

    /// <summary><c>--export</c>: <see cref="ExportBenchmark"/> in a fresh ledger database and embedded chDB.</summary>
    private static async Task<int> RunExportAsync(CliArguments args, CancellationToken cancellationToken)
    {
        var rows = (int)args.Int64("rows", 1_000_000, 1, 50_000_000);
        var rounds = (int)args.Int64("rounds", 3, 1, 50);
        var clickhouseDir = args.String("clickhouse-dir", ChDbTransport.DefaultDataDirectory)!;
        var dir = args.String("dir", Path.Combine(".metering", "bench"))!;
        var database = "bench_export_" + DateTime.UtcNow.ToString("yyyyMMdd_HHmmss", CultureInfo.InvariantCulture);
        args.RejectUnknown(LedgerArguments.Options);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken, database).ConfigureAwait(false);
        using var transport = new ChDbTransport(clickhouseDir);
        var r = await ExportBenchmark.RunAsync(db, transport, database, dir, rows, rounds, Console.Error, cancellationToken).ConfigureAwait(false);
        Console.Out.WriteLine($"export: {r.Rows:N0} rated windows in {r.Blobs} outbox blobs ({r.ArrowBytes / 1048576.0:F1} MiB of lz4 Arrow), {transport.Description}, median of {rounds} alternating rounds");
        Console.Out.WriteLine($"outbox -> ClickHouse (export pass):      {r.ExportRowsPerSecond,12:N0} rows/s  (rounds: {string.Join(", ", r.Rounds.Select(x => (r.Rows / x.ExportSeconds).ToString("N0", CultureInfo.InvariantCulture)))})");
        Console.Out.WriteLine($"INSERT ... SELECT from the Arrow file:   {r.FileRowsPerSecond,12:N0} rows/s  (rounds: {string.Join(", ", r.Rounds.Select(x => (r.Rows / x.FileSeconds).ToString("N0", CultureInfo.InvariantCulture)))})");
        Console.Out.WriteLine($"export / INSERT ... SELECT:              {r.Ratio,12:F2}");
        return 0;
    }

    /// <summary><c>--redis-dedup</c>: <see cref="RedisDedupBenchmark"/> on a private redis-server unless --redis.</summary>
    private static async Task<int> RunRedisDedupAsync(CliArguments args, CancellationToken cancellationToken)
    {
        var ids = (int)args.Int64("ids", 1_000_000, 10_000, 100_000_000);
        var rounds = (int)args.Int64("rounds", 3, 1, 50);
        var configured = args.String("redis");
        args.RejectUnknown();
        using var embedded = configured is null ? await EmbeddedRedis.StartAsync(cancellationToken).ConfigureAwait(false) : null;
        var r = await RedisDedupBenchmark.RunAsync(configured ?? embedded!.Endpoint, ids, rounds, Console.Error).ConfigureAwait(false);
        var @out = Console.Out;
        @out.WriteLine($"redis dedup: {r.Ids:N0} ids per round, server {r.Host}:{r.Port}, median of {rounds} rounds");
        @out.WriteLine($"redis-benchmark -t set -P 16:  {r.RedisBenchmarkSetsPerSecond,12:N0} SET/s");
        @out.WriteLine($"marks (HSET per event minute): {r.MarksPerSecond,12:N0} ids/s   ratio {r.MarksPerSecond / r.RedisBenchmarkSetsPerSecond:F2}");
        @out.WriteLine($"lookups (HMGET per minute):     {r.LookupsPerSecond,12:N0} ids/s   ratio {r.LookupsPerSecond / r.RedisBenchmarkSetsPerSecond:F2}");
        return 0;
    }
}
