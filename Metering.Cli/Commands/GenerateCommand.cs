using Metering.Cli.Arguments;
using Metering.DevKit.Workload;

namespace Metering.Cli.Commands;

/// <summary><c>metering generate</c>: a deterministic synthetic edge workload and its ground truth.</summary>
public sealed class GenerateCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["generate"];

    public string Summary => "write a deterministic synthetic edge workload (NDJSON) and its ground truth";

    public string Usage => "usage: metering generate --output FILE|- [--truth FILE] [options]\n\n" +
        "  --output FILE|-            where the NDJSON records go ('-' = stdout)\n" +
        "  --truth FILE               ground truth JSON (default: OUTPUT.truth.json; required with '-')\n" +
        "  --bootstrap-servers HOSTS  also produce the records into Kafka (one message per record, keyed by account)\n" +
        "  --topic NAME               topic to produce to (default usage)\n" +
        "  --produce-rate N           produce at most N records/s (a steady edge load; default: as fast as Kafka takes them)\n" +
        PipelineArguments.WorkloadUsage;

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var output = args.Required("output");
        var truthPath = args.String("truth") ?? (output == "-" ? throw new CliUsageException("--truth FILE is required when --output is '-'") : output + ".truth.json");
        var options = PipelineArguments.Workload(args);
        var bootstrap = args.String("bootstrap-servers");
        var topic = args.String("topic", "usage")!;
        var rate = args.Has("produce-rate") ? (double?)args.Int64("produce-rate", 0, 1) : null;
        args.RejectUnknown();
        if (bootstrap is not null && output == "-")
        {
            throw new CliUsageException("--bootstrap-servers needs --output FILE (the records are produced from it)");
        }
        var started = System.Diagnostics.Stopwatch.StartNew();
        GroundTruth truth;
        using (var stream = output == "-" ? Console.OpenStandardOutput() : new FileStream(output, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            truth = new SyntheticWorkloadGenerator(options).Generate(stream, new Progress<long>(n =>
            {
                if (n > 0)
                {
                    Console.Error.Write($"\rgenerate: {n:N0} / {options.Records:N0} records");
                }
            }));
        }

        truth.Save(truthPath);
        Console.Error.WriteLine($"\rgenerate: {truth.Read:N0} records ({truth.Accepted:N0} good, {truth.Duplicates:N0} duplicates, {truth.Rejected.Values.Sum():N0} bad) in {started.Elapsed.TotalSeconds:F1}s; ground truth: {truthPath}");
        if (bootstrap is not null)
        {
            await using var input = File.OpenRead(output);
            var sent = await WorkloadProducer.ProduceAsync(bootstrap, topic, input, new Progress<long>(n => Console.Error.Write($"\rproduce: {n:N0} records")), cancellationToken, rate).ConfigureAwait(false);
            Console.Error.WriteLine($"\rproduce: {sent:N0} records acknowledged by {bootstrap} (topic {topic})");
        }

        return 0;
    }
}
