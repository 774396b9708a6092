namespace Metering.Ledger.Statements;

/// <summary>
/// What the ledger holds for one account's billing period, read in one snapshot: the usage totals per SKU, the
/// adjustments booked into the period (kept apart from the usage lines), and whether the period is closed.
/// Both lists are empty when the ledger knows nothing of the account in that period.
/// </summary>
/// <param name="Lines">Usage totals, ordered by SKU.</param>
/// <param name="Adjustments">Adjustment lines, ordered by id.</param>
/// <param name="PeriodEnd">End of the period as stored with its totals, else as recorded when it was closed; null when neither is stored.</param>
/// <param name="Closed">True when a total of the period is frozen or the period is recorded as closed.</param>
public sealed record PeriodStatement(IReadOnlyList<StatementLine> Lines, IReadOnlyList<StatementAdjustment> Adjustments, DateTimeOffset? PeriodEnd, bool Closed);
