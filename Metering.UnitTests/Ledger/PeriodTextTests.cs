using Metering.Ledger.PeriodClose;

namespace Metering.UnitTests.Ledger;

/// <summary>The period a close names: a month (YYYY-MM) or a period's first day (YYYY-MM-DD), nothing else.</summary>
public sealed class PeriodTextTests
{
    [Theory]
    [InlineData("2026-10", "2026-10-01T00:00:00+00:00")]
    [InlineData("2026-10-15", "2026-10-15T00:00:00+00:00")]
    public void Period_text_is_a_month_or_a_start_date(string text, string start) =>
        Assert.Equal(DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture), PeriodCloser.ParsePeriodStart(text));

    [Theory]
    [InlineData("October")]
    [InlineData("2026-13")]
    [InlineData("2026-10-01T00:00:00Z")]
    public void Other_period_text_is_refused_with_the_accepted_forms(string text) =>
        Assert.Contains("YYYY-MM-DD", Assert.Throws<FormatException>(() => PeriodCloser.ParsePeriodStart(text)).Message, StringComparison.Ordinal);
}
