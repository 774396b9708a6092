using Metering.Rating.Statements;

namespace Metering.Ledger.Statements;

/// <summary>
/// One account's re-rate: <see cref="Lines"/>, the difference from the period as billed (its final statement with the
/// late usage booked so far) to the period under the draft books; <see cref="EarlierApplied"/>, the re-rate lines of
/// the period already booked for the account; <see cref="ToBook"/>, what an apply books (<see cref="Lines"/>, or with
/// earlier re-rates their net, <see cref="Rerating.Net"/>). <see cref="Baseline"/> and <see cref="Recomputed"/> are the two
/// statements compared (null in a replay, which reads back what was booked: then <see cref="Lines"/> = <see cref="ToBook"/>).
/// </summary>
public sealed record RerateAccountResult(
    string Account, IReadOnlyList<AdjustmentLine> Lines, IReadOnlyList<AdjustmentLine> EarlierApplied, IReadOnlyList<AdjustmentLine> ToBook,
    Statement? Baseline, Statement? Recomputed, bool BaselineMatchesFinal);
