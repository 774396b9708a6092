using Metering.Rating.Accounts;
using Metering.Rating.Periods;

namespace Metering.Ledger.PeriodClose;

/// <summary>
/// The accounts that share one stored billing-period rule of their own (<c>accounts.anchor_day</c>,
/// <c>accounts.time_zone</c>; at least one is set). They share their periods and the closes of them.
/// </summary>
public sealed record PeriodRuleGroup(int? AnchorDay, string? TimeZone)
{
    /// <summary>The anchor day as <c>closed_rule_periods</c> keys it (0: none of its own).</summary>
    internal short AnchorKey => (short)(AnchorDay ?? 0);

    /// <summary>The time zone as <c>closed_rule_periods</c> keys it (empty: none of its own).</summary>
    internal string ZoneKey => TimeZone ?? "";

    /// <summary>The group's rule, given the list book's.</summary>
    public BillingPeriodRule RuleOf(BillingPeriodRule listRule) => AccountTerms.PeriodRuleOf(AnchorDay, TimeZone, listRule);

    /// <inheritdoc/>
    public override string ToString() => $"anchor day {AnchorDay?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "of the list book"}, {TimeZone ?? "UTC"}";
}
