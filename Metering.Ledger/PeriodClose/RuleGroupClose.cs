using Metering.Rating.Periods;

namespace Metering.Ledger.PeriodClose;

/// <summary>What a period close did for the accounts of one rule group (<see cref="PeriodRuleGroup"/>).</summary>
/// <param name="Group">The group.</param>
/// <param name="Period">The group's period the close is for (<see cref="BillingPeriodRule.PeriodLabelledBy"/>).</param>
/// <param name="Closed">True when that period is closed now; false when it has not ended yet (close again after its end, or force).</param>
/// <param name="StatementsWritten">Final statements written for the group's accounts.</param>
public sealed record RuleGroupClose(PeriodRuleGroup Group, BillingPeriod Period, bool Closed, int StatementsWritten);
