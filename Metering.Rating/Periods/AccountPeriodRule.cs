namespace Metering.Rating.Periods;

/// <summary>An account's own billing-period rule and the closed periods of that rule (their starts).</summary>
public sealed record AccountPeriodRule(BillingPeriodRule Rule, IReadOnlySet<DateTimeOffset> Closed);
