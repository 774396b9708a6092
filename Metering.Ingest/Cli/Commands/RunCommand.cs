using Metering.Aggregates.Records;
using Metering.Ingest.Pipeline;
using Metering.Ingest.Workload;

namespace Metering.Ingest.Cli.Commands;

/// <summary>
/// <c>metering run</c>: the main job on embedded defaults. Today: generate a synthetic edge workload, decode,
/// dedup and aggregate it, check the aggregates against the generator's ground truth and print a summary.
/// </summary>
public sealed class RunCommand : ICliCommand
{
    /// <inheritdoc />
    public IReadOnlyList<string> Name { get; } = ["run"];

    /// <inheritdoc />
    public string Summary => "the main job: generate a workload, aggregate it, check it against the ground truth";

    /// <inheritdoc />
    public string Usage => "usage: metering run [--dir DIR] [workload and pipeline options]\n\n" +
        "  --dir DIR                  working directory for the workload and outputs (default .metering/run)\n" +
        PipelineArguments.WorkloadUsage + PipelineArguments.PipelineUsage +
        "\nexit codes: 0 aggregates equal the ground truth, 1 they differ, 2 usage error";

    /// <inheritdoc />
    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var dir = args.String("dir", Path.Combine(".metering", "run"))!;
        var workload = PipelineArguments.Workload(args) with { Records = args.Int64("records", 2_000_000, 0) };
        var (options, catalog) = PipelineArguments.Pipeline(args);
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
