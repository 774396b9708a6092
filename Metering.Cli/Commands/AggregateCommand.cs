using System.Diagnostics;
using Metering.Cli.Arguments;
using Metering.DevKit.Workload;

namespace Metering.Cli.Commands;

/// <summary><c>metering aggregate</c>: decode, dedup and aggregate an NDJSON file or stdin.</summary>
public sealed class AggregateCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["aggregate"];

    public string Summary => "decode, dedup and aggregate usage records; write aggregates and dead letters";

    public string Usage => "usage: metering aggregate --input FILE|- [--output FILE|-] [--dead-letters FILE] [--truth FILE] [options]\n\n" +
        "  --input FILE|-             NDJSON usage records ('-' = stdin); with --event-mapping a line may also be a\n" +
        "                             CloudEvent (structured mode) or a JSON array of them (batch mode)\n" +
        "  --output FILE|-            aggregates NDJSON (default INPUT.aggregates.ndjson; stdout when input is '-')\n" +
        "  --dead-letters FILE        rejected records with line, offset and reason (default INPUT.dead-letters.ndjson)\n" +
        "  --truth FILE               compare with a ground truth from 'metering generate'; exit 1 on any difference\n" +
        PipelineArguments.PipelineUsage +
        "\nexit codes: 0 done (and matches the truth), 1 ground truth mismatch or unbalanced, 2 usage error";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var input = args.Required("input");
        var stem = input == "-" ? "stdin" : input;
        var output = args.String("output") ?? (input == "-" ? "-" : stem + ".aggregates.ndjson");
        var deadLetterPath = args.String("dead-letters") ?? stem + ".dead-letters.ndjson";
        var truthPath = args.String("truth");
        var (options, catalog) = PipelineArguments.Pipeline(args);
        PipelineArguments.RefuseAccountRejection(options, "aggregate");
        var knownSkus = options.UnknownSkus == Aggregates.Admission.UnknownSkuPolicy.Reject
            ? (LedgerArguments.Prices(args) ?? throw new CliUsageException("--unknown-sku reject needs a price book (--pricebook FILE)")).KnownSkus()
            : null;
        args.RejectUnknown();
        if (input != "-" && !File.Exists(input))
        {
            throw new CliUsageException($"--input {input}: no such file");
        }

        var startUp = SinceProcessStart();
        var running = Stopwatch.StartNew();
        var result = await FileAggregation.RunAsync(input, deadLetterPath, options, catalog, knownSkus, cancellationToken).ConfigureAwait(false);
        running.Stop();
        var writing = Stopwatch.StartNew();
        FileAggregation.WriteAggregates(output, result, catalog, options);
        writing.Stop();

        // What the user waits for is the whole process, not the pipeline: the line leads with it, measured from the
        // process start (runtime start-up included), and splits it so no phase can hide.
        var whole = SinceProcessStart();
        var err = Console.Error;
        err.WriteLine(result.Balance());
        err.WriteLine($"throughput: {result.Read / whole.TotalSeconds:N0} records/s, {result.Bytes / 1e6 / whole.TotalSeconds:N1} MB/s over the whole process " +
            $"({result.Bytes / 1e6:N1} MB in {whole.TotalSeconds:F2}s from process start: start-up {startUp.TotalSeconds:F2}s, " +
            $"set-up {(running.Elapsed - result.Elapsed).TotalSeconds:F2}s, " +
            $"read+decode+dedup+aggregate {(result.Elapsed - result.DrainElapsed).TotalSeconds:F2}s, drain {result.DrainElapsed.TotalSeconds:F2}s, " +
            $"sort+write {writing.Elapsed.TotalSeconds:F2}s); pipeline alone {result.RecordsPerSecond:N0} records/s");
        err.WriteLine($"aggregates: {result.Rows.Count:N0} keys -> {output}; dead letters: {result.Rejected:N0} -> {deadLetterPath}");
        err.WriteLine($"dedup: {result.DedupEntries:N0} ids remembered, {result.DedupBytes / 1048576.0:N1} MiB" +
            (result.DedupEarlyEvictions > 0 ? $", horizon shortened {result.DedupEarlyEvictions} time(s) for lack of room" : "") +
            (result.EarlyFlushes > 0 ? $"; {result.EarlyFlushes} early flush(es) at the key limit" : ""));
        if (!result.IsBalanced)
        {
            return 1;
        }

        if (truthPath is null)
        {
            return 0;
        }

        var problems = GroundTruthCheck.Compare(GroundTruth.Load(truthPath), result, catalog);
        foreach (var p in problems.Take(20))
        {
            err.WriteLine("MISMATCH " + p);
        }

        err.WriteLine(problems.Count == 0
            ? $"ground truth: OK ({result.Rows.Count:N0} aggregate rows match {truthPath} exactly)"
            : $"ground truth: {problems.Count} difference(s)");
        return problems.Count == 0 ? 0 : 1;
    }

    /// <summary>Time since this process started (the runtime's own start-up included), from the kernel's record of the start.</summary>
    private static TimeSpan SinceProcessStart()
    {
        using var self = Process.GetCurrentProcess();
        return DateTime.Now - self.StartTime;
    }
}
