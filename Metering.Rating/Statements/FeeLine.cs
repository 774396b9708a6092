namespace Metering.Rating.Statements;

/// <summary>
/// A recurring fee on a statement: the fee <paramref name="FeeId"/> charged for the service period
/// [<paramref name="ServiceStart"/>, <paramref name="ServiceEnd"/>) (the part of the statement's period during which
/// the subscription was active), with <paramref name="ProrationFactor"/> = service length / period length for a
/// prorated fee (100 ns resolution, the decimal quotient; 1 when the fee is not prorated) and the
/// <paramref name="Amount"/> rounded once to minor units, in <paramref name="Currency"/>, from book
/// <paramref name="PriceBook"/> version <paramref name="PriceBookVersion"/> (<paramref name="PriceBookHash"/>).
/// </summary>
public sealed record FeeLine(string FeeId, DateTimeOffset ServiceStart, DateTimeOffset ServiceEnd, decimal ProrationFactor, decimal Amount, string Currency,
    string PriceBook, string PriceBookVersion, string PriceBookHash);
