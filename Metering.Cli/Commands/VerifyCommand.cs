using Metering.Cli.Arguments;
using Metering.DevKit.Workload;
using Metering.Ledger.Verification;

namespace Metering.Cli.Commands;

/// <summary><c>metering verify</c>: checks the PostgreSQL ledger's conservation and, optionally, a ground truth.</summary>
public sealed class VerifyCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["verify"];

    public string Summary => "check the ledger: read = accepted + duplicates + rejected, quantities conserved, ground truth";

    public string Usage => "usage: metering verify [--truth FILE] [ledger options]\n\n" +
        "  --truth FILE               ground truth from 'metering generate'; every total and the balance must match\n" +
        LedgerArguments.Usage +
        "\nexit codes: 0 clean, 1 any difference (each printed), 2 usage error";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var truthPath = args.String("truth");
        var group = args.String("group", "metering")!;
        var topic = args.String("topic", "usage")!;
        args.RejectUnknown(LedgerArguments.Options);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        var truth = truthPath is null ? null : GroundTruth.Load(truthPath);
        var problems = await LedgerVerifier.VerifyAsync(db, group, topic, GroundTruthExpectation.From(truth), cancellationToken).ConfigureAwait(false);
        foreach (var p in problems.Take(50))
        {
            Console.Out.WriteLine("DIFFERENCE " + p);
        }

        Console.Out.WriteLine(problems.Count == 0
            ? $"verify: clean (conservation holds{(truth is null ? "" : ", every total equals the ground truth")})"
            : $"verify: {problems.Count} difference(s)");
        return problems.Count == 0 ? 0 : 1;
    }
}
