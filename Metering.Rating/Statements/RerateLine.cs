namespace Metering.Rating.Statements;

/// <summary>
/// A re-rate difference line as an operator reads it: what it is about (<paramref name="Subject"/>: <c>usage SKU</c>,
/// <c>fee ID</c>, <c>commitment_true_up</c>, or the line's reason when it is neither), and the amount in the line's
/// currency <paramref name="Before"/> (baseline) and <paramref name="After"/> (recomputed); both null when the line is
/// not a change of one of the two statements' lines (a reversal of an earlier re-rate).
/// </summary>
public sealed record RerateLine(AdjustmentLine Line, string Subject, decimal? Before, decimal? After);
