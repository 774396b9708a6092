namespace Metering.Rating.Statements;

/// <summary>
/// The subtotals of one currency on a statement, by kind of line (usage, fees, commitment true-ups, adjustments), and
/// their <paramref name="Total"/>. Exact sums of rounded line amounts: nothing is rounded again.
/// </summary>
public sealed record CurrencyTotal(string Currency, decimal Usage, decimal Fees, decimal Commitments, decimal Adjustments, decimal Total);
