namespace Metering.Rating.Statements;

/// <summary>
/// A minimum commitment on a statement: <paramref name="Committed"/>, the <paramref name="UsageCharged"/> against it
/// (the usage lines of the statement in <paramref name="Currency"/>; adjustment lines never count), and the
/// <paramref name="TrueUp"/> = max(0, committed - usage charged), rounded once; from book <paramref name="PriceBook"/>
/// version <paramref name="PriceBookVersion"/> (<paramref name="PriceBookHash"/>).
/// </summary>
public sealed record CommitmentLine(decimal Committed, decimal UsageCharged, decimal TrueUp, string Currency, string PriceBook, string PriceBookVersion, string PriceBookHash);
