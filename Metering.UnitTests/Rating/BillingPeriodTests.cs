using Metering.Rating.Periods;

namespace Metering.UnitTests.Rating;

public class BillingPeriodTests
{
    private static DateTimeOffset At(string s) => DateTimeOffset.Parse(s, System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [InlineData(1, "2026-11-30T23:59:59.9999999Z", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")]
    [InlineData(1, "2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z")]
    [InlineData(1, "2026-12-31T12:00:00Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z")]
    [InlineData(15, "2026-11-14T23:00:00Z", "2026-10-15T00:00:00Z", "2026-11-15T00:00:00Z")]
    [InlineData(15, "2026-11-15T00:00:00Z", "2026-11-15T00:00:00Z", "2026-12-15T00:00:00Z")]
    [InlineData(31, "2027-02-28T00:00:00Z", "2027-02-28T00:00:00Z", "2027-03-31T00:00:00Z")] // anchor 31 clamps to Feb 28
    [InlineData(31, "2027-02-27T00:00:00Z", "2027-01-31T00:00:00Z", "2027-02-28T00:00:00Z")]
    [InlineData(31, "2028-02-29T10:00:00Z", "2028-02-29T00:00:00Z", "2028-03-31T00:00:00Z")] // leap year
    [InlineData(30, "2028-02-29T10:00:00Z", "2028-02-29T00:00:00Z", "2028-03-30T00:00:00Z")]
    [InlineData(29, "2027-02-28T10:00:00Z", "2027-02-28T00:00:00Z", "2027-03-29T00:00:00Z")]
    [InlineData(29, "2028-02-29T10:00:00Z", "2028-02-29T00:00:00Z", "2028-03-29T00:00:00Z")]
    [InlineData(31, "2026-04-30T00:00:00Z", "2026-04-30T00:00:00Z", "2026-05-31T00:00:00Z")]
    [InlineData(1, "2026-11-01T00:30:00+01:00", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z")] // 23:30 UTC on Oct 31
    public void Monthly_period_of_an_instant_follows_the_anchor_day(int anchor, string instant, string start, string end)
    {
        var period = BillingPeriodRule.Monthly(anchor).PeriodOf(At(instant));
        Assert.Equal(At(start), period.Start);
        Assert.Equal(At(end), period.End);
        Assert.True(period.Contains(At(instant)));
    }

    [Fact]
    public void Consecutive_monthly_periods_tile_time_without_gaps_or_overlaps()
    {
        foreach (var anchor in new[] { 1, 28, 29, 30, 31 })
        {
            var rule = BillingPeriodRule.Monthly(anchor);
            var p = rule.PeriodOf(At("2027-12-20T00:00:00Z"));
            for (var i = 0; i < 30; i++)
            {
                var next = rule.PeriodOf(p.End);
                Assert.Equal(p.End, next.Start);
                Assert.Equal(p, rule.PeriodOf(p.End.AddTicks(-1)));
                p = next;
            }
        }
    }

    [Fact]
    public void Fixed_periods_count_from_their_epoch_in_both_directions()
    {
        var rule = BillingPeriodRule.Fixed(TimeSpan.FromDays(7), At("2026-01-05T00:00:00Z"));
        Assert.Equal(new BillingPeriod(At("2026-11-23T00:00:00Z"), At("2026-11-30T00:00:00Z")), rule.PeriodOf(At("2026-11-24T10:00:00Z")));
        Assert.Equal(new BillingPeriod(At("2025-12-29T00:00:00Z"), At("2026-01-05T00:00:00Z")), rule.PeriodOf(At("2026-01-04T23:59:59Z")));
    }
}
