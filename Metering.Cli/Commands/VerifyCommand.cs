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

        Console.Out.WriteLine(Describe(await LedgerVerifier.CorrectionsAsync(db, cancellationToken).ConfigureAwait(false)));
        Console.Out.WriteLine(problems.Count == 0
            ? $"verify: clean (conservation holds{(truth is null ? "" : ", every total equals the ground truth")})"
            : $"verify: {problems.Count} difference(s)");
        return problems.Count == 0 ? 0 : 1;
    }

    /// <summary>"corrections: 3 (amend 1, credit 1, void 1); net quantity delta: api.calls -5; net amount: USD -10.00; ...".</summary>
    internal static string Describe(CorrectionSummary s)
    {
        if (s.Count == 0)
        {
            return "corrections: none";
        }

        static string Number(decimal d) => d.ToString("0.#########", System.Globalization.CultureInfo.InvariantCulture);
        var kinds = string.Join(", ", s.CountByKind.Select(k => $"{k.Key} {k.Value:N0}"));
        var skus = s.NetQuantityDeltaBySku.Count == 0 ? "none" : string.Join(", ", s.NetQuantityDeltaBySku.Select(k => $"{k.Key} {Number(k.Value)}"));
        var money = s.NetAmountByCurrency.Count == 0 ? "none" : string.Join(", ", s.NetAmountByCurrency.Select(k => $"{k.Key} {Number(k.Value)}"));
        return $"corrections: {s.Count:N0} ({kinds}); net quantity delta per SKU: {skus}; net manual amount per currency: {money} " +
            "(kept beside billing_period_totals, never in them: the conservation checks are on the usage as recorded, statements add the corrections)";
    }
}
