namespace Metering.Rating.Statements;

/// <summary>
/// One account's re-rate of a closed period: the <paramref name="Baseline"/> (its final statement rebuilt with the
/// period's late usage booked so far, under the books it was billed with), the <paramref name="Recomputed"/> statement
/// (the same usage under the draft books) and the <paramref name="Lines"/> that turn one into the other
/// (<see cref="StatementDifference.Between"/>, kind <see cref="AdjustmentLine.Rerate"/>; empty when nothing changes).
/// <paramref name="BaselineMatchesFinal"/> is false when the billing books do not reproduce the final statement's own
/// lines (not the books it was billed with): the lines are then not a difference against what was billed.
/// </summary>
public sealed record RerateDifference(string Account, Statement Baseline, Statement Recomputed, IReadOnlyList<AdjustmentLine> Lines, bool BaselineMatchesFinal);
