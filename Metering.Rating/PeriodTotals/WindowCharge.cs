namespace Metering.Rating.PeriodTotals;

/// <summary>
/// The rated form of one input window: its position in the list given to <see cref="PeriodTotalsRater.Plan(IReadOnlyList{UsageWindow}, Metering.Rating.Periods.AccountPeriods)"/>, the
/// billing period it belongs to (also for late usage: the closed one), its incremental charge (0 when unpriced; may be
/// negative, a credit) and the currency and price-book version hash of its total after the window.
/// </summary>
public readonly record struct WindowCharge(int Window, DateTimeOffset PeriodStart, decimal Amount, string Currency, string PriceBookHash);
