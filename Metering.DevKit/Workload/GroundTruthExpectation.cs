using Metering.Ledger.Verification;

namespace Metering.DevKit.Workload;

/// <summary>Turns a generator's ground truth into what the ledger verifier expects (the ledger does not know DevKit).</summary>
public static class GroundTruthExpectation
{
    /// <summary>The expectation <paramref name="truth"/> sets for the ledger; null for no ground truth.</summary>
    public static LedgerExpectation? From(GroundTruth? truth) =>
        truth is null
            ? null
            : new LedgerExpectation(truth.Read, truth.Accepted, truth.Duplicates, truth.Rejected.Values.Sum(),
                [.. truth.Totals.Select(t => new ExpectedTotal(t.Account, t.Sku, t.Count, t.Quantity))]);
}
