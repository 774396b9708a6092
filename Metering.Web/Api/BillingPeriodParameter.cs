using Metering.Ledger.PeriodClose;
using Metering.Rating.Periods;

namespace Metering.Web.Api;

/// <summary>The <c>{period}</c> route value: a period's start date <c>YYYY-MM-DD</c>, or <c>YYYY-MM</c> for the 1st of that month (UTC midnight).</summary>
internal static class BillingPeriodParameter
{
    /// <summary>Parses <paramref name="text"/> as <c>metering period close</c> does; null when it is neither form.</summary>
    public static DateTimeOffset? Parse(string? text)
    {
        if (text is null)
        {
            return null;
        }

        try
        {
            return PeriodCloser.ParsePeriodStart(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Parses <paramref name="text"/> and finds the billing period under <paramref name="rule"/> that contains it. Null
    /// when both worked; otherwise the reason for a 400: not a date, or a date whose period (or the one before it)
    /// would reach past the instants a <see cref="DateTimeOffset"/> can hold (year 1 to 9999), which would otherwise
    /// surface as an ArgumentOutOfRangeException and a 500.
    /// </summary>
    public static string? Resolve(string? text, BillingPeriodRule rule, out DateTimeOffset start, out BillingPeriod containing)
    {
        ArgumentNullException.ThrowIfNull(rule);
        containing = default;
        if (Parse(text) is not { } parsed)
        {
            start = default;
            return Problem(text);
        }

        start = parsed;
        try
        {
            containing = rule.PeriodOf(parsed);
            return null;
        }
        catch (ArgumentOutOfRangeException)
        {
            return OutOfRange(text);
        }
        catch (OverflowException)
        {
            return OutOfRange(text);
        }
    }

    /// <summary>The reason given when <see cref="Parse"/> fails.</summary>
    public static string Problem(string? text) => $"must be a period start date YYYY-MM-DD or a month YYYY-MM, got '{text}'";

    private static string OutOfRange(string? text) =>
        $"the billing period of '{text}' does not fit in the supported range: a period must start on or after 0001-01-01T00:00:00Z and end by 9999-12-31T23:59:59Z";
}
