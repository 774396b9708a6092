namespace Metering.Ledger.Verification;

/// <summary>
/// What the ledger of one consumer group and topic must hold, for <see cref="LedgerVerifier"/>: the balance (read =
/// accepted + duplicates + rejected) and the exact count and quantity per (account, SKU). The ledger defines it so
/// that it needs no reference to whoever produced the expectation (the development harness's ground truth).
/// </summary>
/// <param name="Read">Records read.</param>
/// <param name="Accepted">Records accepted.</param>
/// <param name="Duplicates">Duplicates dropped.</param>
/// <param name="Rejected">Records rejected, all reasons together.</param>
/// <param name="Totals">Expected totals per (account, SKU).</param>
public sealed record LedgerExpectation(long Read, long Accepted, long Duplicates, long Rejected, IReadOnlyList<ExpectedTotal> Totals);
