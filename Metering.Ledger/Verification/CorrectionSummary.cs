namespace Metering.Ledger.Verification;

/// <summary>
/// What <see cref="LedgerVerifier.CorrectionsAsync"/> found in the <c>corrections</c> table: how many of each kind, the
/// net quantity delta per SKU (voids and amends, in the SKU's recorded unit), the net manual amount per currency
/// (credits negative) and the problems of the amend chains (empty = every event's corrections chain correctly).
/// Corrections never change <c>billing_period_totals</c>, so the conservation checks hold on the usage as recorded.
/// </summary>
public sealed record CorrectionSummary(
    long Count,
    IReadOnlyDictionary<string, long> CountByKind,
    IReadOnlyDictionary<string, decimal> NetQuantityDeltaBySku,
    IReadOnlyDictionary<string, decimal> NetAmountByCurrency,
    IReadOnlyList<string> Problems);
