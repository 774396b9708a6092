namespace Metering.Rating.Statements;

/// <summary>
/// A booked adjustment on a statement: its <paramref name="Kind"/> (<see cref="LateUsage"/>, <see cref="Correction"/>,
/// <see cref="Rerate"/>, <see cref="Manual"/>), a <paramref name="Reference"/> to what it adjusts (the closed period it
/// corrects as an ISO 8601 interval, or an id), the <paramref name="Sku"/> and <paramref name="Quantity"/> (raw metered
/// unit) when it is about usage, the signed <paramref name="Amount"/> in <paramref name="Currency"/> (already rounded:
/// no more fractional digits than the currency's minor units) and a <paramref name="Reason"/> in words.
/// </summary>
public sealed record AdjustmentLine(string Kind, string Reference, string? Sku, decimal? Quantity, decimal Amount, string Currency, string Reason)
{
    /// <summary>The dimension group of the usage line it adjusts (<see cref="UsageLine.Group"/>); "" when none.</summary>
    public string Group { get; init; } = PeriodTotals.DimensionGroup.None;

    /// <summary>Usage that arrived after its period was final.</summary>
    public const string LateUsage = "late_usage";

    /// <summary>A void or an amended quantity of usage already billed.</summary>
    public const string Correction = "correction";

    /// <summary>The same usage rated again under another price book version.</summary>
    public const string Rerate = "rerate";

    /// <summary>A credit or debit entered by an operator.</summary>
    public const string Manual = "manual";

    /// <summary>True when <paramref name="kind"/> is one of the four kinds.</summary>
    public static bool IsKnownKind(string? kind) => kind is LateUsage or Correction or Rerate or Manual;
}
