namespace Metering.Ledger.Accounts;

/// <summary>
/// Refuses a change of an account's anchor day or time zone once usage is booked under its billing-period rule: its
/// totals, late usage and statements are cut on that rule's boundaries (docs/api.md#accounts).
/// </summary>
public sealed class PeriodRuleInUseException(string account)
    : Exception($"account '{account}' has usage booked under its billing periods: its anchor_day and time_zone cannot change any more (the other terms can)")
{
    /// <summary>The account.</summary>
    public string Account { get; } = account;
}
