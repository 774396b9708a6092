using Metering.Ingest.Ledger;

namespace Metering.Ingest.Api;

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

    /// <summary>The reason given when <see cref="Parse"/> fails.</summary>
    public static string Problem(string? text) => $"must be a period start date YYYY-MM-DD or a month YYYY-MM, got '{text}'";
}
