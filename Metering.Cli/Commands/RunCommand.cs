using Metering.Aggregates.Records;
using Metering.Cli.Arguments;
using Metering.Cli.Output;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Accounts;
using Metering.Ledger.Statements;
using Metering.Ledger.Totals;
using Metering.Ledger.Verification;
using Metering.Rating.Statements;

namespace Metering.Cli.Commands;

/// <summary>
/// <c>metering run</c>: the main job on embedded defaults: generate a synthetic edge workload, stream it through
/// Kafka into the ledger, verify it against the generator's ground truth, export and reconcile it, and end with the
/// draft statement of one account (<see cref="StatementText"/>).
/// </summary>
public sealed class RunCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["run"];

    public string Summary => "the main job: workload -> Kafka -> aggregate -> rate -> PostgreSQL, verified against the ground truth";

    public string Usage => "usage: metering run [--mode pipeline|file] [--dir DIR] [options]\n\n" +
        "  --mode pipeline            (default) embedded Kafka + PostgreSQL: a generator produces while the engine consumes,\n" +
        "                             rates (--pricebook, default examples/pricebooks/list.json) and flushes; ends with verify\n" +
        "  --mode file                file -> decode -> dedup -> aggregate, checked against the ground truth\n" +
        "  --dir DIR                  working directory for the workload and outputs (default .metering/run)\n" +
        "  --partitions N             partitions of the usage topic (pipeline, default 32)\n" +
        "  --pricebook FILE, --contracts FILES   price books, published into the run's registry and rated from it (pipeline;\n" +
        "                             without --pricebook and --contracts the examples' list book and contract-acct-1.json)\n" +
        "  --heavy-scale N            size skew: the records of the account of rank k carry max(1, N / k) times the\n" +
        "                             quantity of bytes, requests, CPU, storage, queries and transforms (pipeline,\n" +
        "                             default 500; 1 = every account alike)\n" +
        "  --no-analytics             skip exporting to ClickHouse (chDB by default) and reconciling (pipeline)\n" +
        "  --sums-only                the eight summed SKUs only, without the seven metered ones (max, min, count,\n" +
        "                             time_weighted, percentile, latest, unique_count: docs/meters.md) the run adds (pipeline)\n" +
        LedgerArguments.Usage + AnalyticsArguments.Usage +
        PipelineArguments.WorkloadUsage + PipelineArguments.PipelineUsage +
        "\nexit codes: 0 aggregates equal the ground truth, 1 they differ, 2 usage error";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var mode = args.String("mode", "pipeline");
        return mode switch
        {
            "pipeline" => await RunPipelineAsync(args, cancellationToken).ConfigureAwait(false),
            "file" => await RunFileAsync(args, cancellationToken).ConfigureAwait(false),
            _ => throw new CliUsageException($"--mode must be 'pipeline' or 'file', got '{mode}'"),
        };
    }

    private static async Task<int> RunPipelineAsync(CliArguments args, CancellationToken cancellationToken)
    {
        var dir = args.String("dir", Path.Combine(".metering", "run"))!;
        // Account skew 0.8 unless given (1.0 elsewhere): the embedded broker keeps only 5 MiB per partition, and under
        // Zipf 1.0 the busiest account's partition can pass that while the engine still lags behind it, which the
        // engine then reports, correctly, as data loss. A real broker's retention is measured in days.
        var skewGiven = args.Has("skew");
        var workload = PipelineArguments.Workload(args) with { Records = args.Int64("records", 1_000_000, 0) };
        workload = skewGiven ? workload : workload with { Skew = 0.8 };
        // A few heavy accounts with big records, so that the price book's included units, tiers and packages are all
        // passed by someone and every SKU's total is visibly above zero (1,000,000 records over 10,000 accounts leave
        // every account inside them otherwise). The record count stays; a heavy account's records grow by a few digits.
        workload = workload with { HeavyAccountScale = (int)args.Int64("heavy-scale", 500, 1, 900) };
        // Seven metered SKUs (max, min, count, time_weighted, percentile, latest, unique_count; docs/meters.md) join the
        // eight summed ones, so the statement the run ends with shows every meter the engine rates.
        workload = workload with { MeteredSkus = !args.Has("sums-only") };
        var partitions = (int)args.Int64("partitions", 32, 1, 1024);
        var (pipeline, _) = PipelineArguments.Pipeline(args);
        // The run's database is fresh: no account exists until the flush creates it (auto, the default).
        PipelineArguments.RefuseAccountRejection(pipeline, "run (a fresh database)");
        var accountRefresh = PipelineArguments.AccountRefresh(args);
        var priceFiles = LedgerArguments.PriceFiles(args, defaultContracts: true);
        var database = args.String("database") ?? "run_" + DateTime.UtcNow.ToString("yyyyMMdd_HHmmss", System.Globalization.CultureInfo.InvariantCulture);
        var analytics = args.Has("no-analytics") ? null : AnalyticsArguments.Schema(args, database);
        args.RejectUnknown([.. LedgerArguments.Options, .. AnalyticsArguments.Options]);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken, database).ConfigureAwait(false);
        // Published into the run's registry first, then rated from it, as `stream` does (docs/pricebooks.md).
        var prices = await LedgerArguments.RegistryPricesAsync(db, priceFiles, TextWriter.Null, cancellationToken).ConfigureAwait(false);
        using var analyticsTransport = analytics is null ? null : AnalyticsArguments.Transport(args);
        Directory.CreateDirectory(dir);
        var err = Console.Error;
        var input = Path.Combine(dir, "usage.ndjson");
        err.WriteLine($"[1/5] generating {workload.Records:N0} records (seed {workload.Seed}, {workload.Accounts:N0} accounts, {workload.DuplicateShare:P1} duplicates, {workload.BadShare:P2} bad) -> {input}");
        GroundTruth truth;
        using (var stream = new FileStream(input, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            truth = new SyntheticWorkloadGenerator(workload).Generate(stream);
        }

        truth.Save(input + ".truth.json");
        using var kafka = new EmbeddedKafkaCluster(brokers: 3);
        kafka.CreateTopic("usage", partitions, 3);
        kafka.CreateTopic("usage.dead-letters", Math.Min(partitions, 8), 3);
        err.WriteLine($"[2/5] embedded Kafka {kafka.BootstrapServers}, topic 'usage' with {partitions} partitions; price book {(prices?.List?.Id ?? "none (unpriced)")}{(prices?.Contracts.Any() == true ? " with contract(s) " + string.Join(", ", prices.Contracts.Select(c => c.Id)) : "")}");
        err.WriteLine("[3/5] producing into Kafka while the engine consumes, aggregates, rates and flushes to PostgreSQL");
        await using var accounts = await AccountDirectory.StartAsync(db, accountRefresh, err, cancellationToken).ConfigureAwait(false);
        var options = new StreamingOptions { BootstrapServers = kafka.BootstrapServers, Pipeline = pipeline, Accounts = accounts };
        var run = await PipelineRun.RunAsync(options, db, prices, input, truth.Read, err, cancellationToken).ConfigureAwait(false);

        var @out = Console.Out;
        @out.WriteLine();
        @out.WriteLine($"pipeline: {run.Records:N0} records from Kafka to committed PostgreSQL totals in {run.Elapsed.TotalSeconds:F1}s = {run.Records / run.Elapsed.TotalSeconds:N0} records/s; {run.Flushes} flushes, flush p99 {run.FlushP99Milliseconds:F0} ms");
        @out.WriteLine($"start: first record consumed {Seconds(run.StartToFirstConsume)} after the start, first flush committed {Seconds(run.StartToFirstCommit)} after it; engine time: {run.Stages.Describe(run.Elapsed)}");
        err.WriteLine($"start-up from the run's start: {run.Stages.DescribeStart(run.Started)}");
        @out.WriteLine();
        @out.WriteLine($"{"sku",-24} {"records",12} {"quantity",26} {"amount",16} currency");
        foreach (var line in await BillingTotalsQuery.BySkuAsync(db, cancellationToken).ConfigureAwait(false))
        {
            @out.WriteLine($"{line.Sku,-24} {line.RecordCount,12:N0} {line.Quantity.ToString("0.#########", System.Globalization.CultureInfo.InvariantCulture),26} {line.Amount.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture),16} {line.Currency}");
        }

        @out.WriteLine();
        err.WriteLine("[4/5] metering verify against the generator's ground truth");
        var problems = await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(truth), cancellationToken).ConfigureAwait(false);
        foreach (var p in problems.Take(20))
        {
            @out.WriteLine("DIFFERENCE " + p);
        }

        @out.WriteLine(problems.Count == 0
            ? $"verify: clean: {truth.Totals.Count:N0} (account, sku) totals, the balance (read {truth.Read:N0} = accepted {truth.Accepted:N0} + duplicates {truth.Duplicates:N0} + rejected {truth.Rejected.Values.Sum():N0}) and conservation all match exactly"
            : $"verify: FAILED with {problems.Count} difference(s)");
        var drifts = 0;
        if (analytics is not null && analyticsTransport is not null)
        {
            err.WriteLine("[5/5] export the rated windows to ClickHouse and reconcile every period against PostgreSQL");
            drifts = await ReconcileCommand.ExportAndReconcileAllAsync(db, analyticsTransport, analytics, @out, cancellationToken).ConfigureAwait(false);
        }

        if (prices?.List is { } list && StatementAccount(truth) is { } account)
        {
            var period = list.Periods.PeriodOf(workload.Start);

            // The one call that obtains the statement (issue 14's StatementAssembler through StatementQuery): the final
            // statement if period close wrote one, else the draft built now from the ledger, the account's terms and the books.
            if (await StatementQuery.GetAsync(db, period, list.Periods, prices, account, cancellationToken).ConfigureAwait(false) is { } statement)
            {
                @out.WriteLine();
                await PrintStatementAsync(@out, statement.Statement, statement.Status, statement.StatementId, cancellationToken).ConfigureAwait(false);
            }
        }

        return problems.Count == 0 && drifts == 0 ? 0 : 1;
    }

    private static string Seconds(TimeSpan? t) => t is { } v ? v.TotalSeconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture) + "s" : "never";

    /// <summary>
    /// Prints <paramref name="statement"/> as <see cref="StatementText"/> renders it, with its <paramref name="status"/>
    /// (<c>draft</c> or <c>final</c>) and <paramref name="statementId"/> (null until statements are stored).
    /// </summary>
    internal static async Task PrintStatementAsync(TextWriter output, Statement statement, string status, string? statementId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        await output.WriteAsync(StatementText.Render(statement, status, statementId).AsMemory(), cancellationToken).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The account whose statement the run ends with: the one with the most accepted records in the ground truth (ties:
    /// the name, ordinal), i.e. the heaviest account, which has usage on every SKU and, under the size skew, passes
    /// included units and tiers. Null when nothing was accepted.
    /// </summary>
    internal static string? StatementAccount(GroundTruth truth)
    {
        ArgumentNullException.ThrowIfNull(truth);
        return truth.Totals
            .GroupBy(t => t.Account, StringComparer.Ordinal)
            .Select(g => (Account: g.Key, Records: g.Sum(t => t.Count)))
            .OrderByDescending(a => a.Records)
            .ThenBy(a => a.Account, StringComparer.Ordinal)
            .Select(a => a.Account)
            .FirstOrDefault();
    }

    private static async Task<int> RunFileAsync(CliArguments args, CancellationToken cancellationToken)
    {
        var dir = args.String("dir", Path.Combine(".metering", "run"))!;
        var workload = PipelineArguments.Workload(args) with { Records = args.Int64("records", 2_000_000, 0) };
        var (options, catalog) = PipelineArguments.Pipeline(args);
        PipelineArguments.RefuseAccountRejection(options, "run --mode file");
        args.RejectUnknown();
        Directory.CreateDirectory(dir);
        var input = Path.Combine(dir, "usage.ndjson");
        var err = Console.Error;

        err.WriteLine($"[1/3] generating {workload.Records:N0} records (seed {workload.Seed}, {workload.Accounts:N0} accounts, {workload.DuplicateShare:P1} duplicates, {workload.BadShare:P2} bad) -> {input}");
        GroundTruth truth;
        using (var stream = new FileStream(input, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            truth = new SyntheticWorkloadGenerator(workload).Generate(stream);
        }

        truth.Save(input + ".truth.json");

        err.WriteLine("[2/3] decode -> dedup -> aggregate");
        var deadLetterPath = Path.Combine(dir, "dead-letters.ndjson");
        var result = await FileAggregation.RunAsync(input, deadLetterPath, options, catalog, cancellationToken).ConfigureAwait(false);
        var aggregatesPath = Path.Combine(dir, "aggregates.ndjson");
        FileAggregation.WriteAggregates(aggregatesPath, result, catalog, options);

        var problems = GroundTruthCheck.Compare(truth, result, catalog);
        var @out = Console.Out;
        @out.WriteLine();
        @out.WriteLine($"{result.Balance()}");
        @out.WriteLine($"throughput: {result.RecordsPerSecond:N0} records/s ({result.Bytes / 1e6:N1} MB in {result.Elapsed.TotalSeconds:F2}s)");
        @out.WriteLine($"aggregates: {result.Rows.Count:N0} (account, sku, {options.Aggregator.WindowLength.TotalSeconds:N0}s window) keys -> {aggregatesPath}");
        @out.WriteLine();
        @out.WriteLine($"{"sku",-24} {"records",12} {"quantity",28}");
        foreach (var (_, sku, count, nanos) in GroundTruthCheck.TotalsBySku(result.Rows, catalog))
        {
            @out.WriteLine($"{sku,-24} {count,12:N0} {FixedPoint.Format(nanos),28}");
        }

        @out.WriteLine();
        err.WriteLine("[3/3] checking against the ground truth");
        foreach (var p in problems.Take(20))
        {
            @out.WriteLine("MISMATCH " + p);
        }

        @out.WriteLine(problems.Count == 0
            ? $"ground truth: OK: {truth.Totals.Count:N0} (account, sku) totals, the balance and every reject reason match exactly"
            : $"ground truth: FAILED with {problems.Count} difference(s)");
        return problems.Count == 0 ? 0 : 1;
    }
}
