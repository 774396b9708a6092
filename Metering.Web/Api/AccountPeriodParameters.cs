using Metering.Rating.Periods;

namespace Metering.Web.Api;

/// <summary>The <c>{account}</c> and <c>{period}</c> route parameters of the per-account billing endpoints, checked alike.</summary>
internal static class AccountPeriodParameters
{
    /// <summary>
    /// The 400 problems of <paramref name="account"/> (the identifier rules) and <paramref name="period"/> (a month or
    /// a period start under <paramref name="rule"/>; with <paramref name="mustStartPeriod"/> a date inside a period is
    /// refused too), by parameter name; empty when both are valid.
    /// </summary>
    public static Dictionary<string, string[]> Check(string account, string period, BillingPeriodRule rule, bool mustStartPeriod, out DateTimeOffset start, out BillingPeriod containing)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (UsageRequest.IdentifierProblem(account) is { } accountProblem)
        {
            errors["account"] = [accountProblem];
        }

        if (BillingPeriodParameter.Resolve(period, rule, out start, out containing) is { } periodProblem)
        {
            errors["period"] = [periodProblem];
        }
        else if (mustStartPeriod && containing.Start != start)
        {
            errors["period"] = [$"{start:yyyy-MM-dd} is not the start of a billing period (the period containing it starts {containing.Start:yyyy-MM-dd})"];
        }

        return errors;
    }
}
