using System.Globalization;
using Metering.Rating.Periods;

namespace Metering.UnitTests.Rating.Accounts;

/// <summary>Monthly billing periods anchored at local midnight in an IANA time zone, returned as UTC instants.</summary>
public class ZonedBillingPeriodTests
{
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    private static DateTimeOffset At(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture);

    [Theory]
    // CET (+01:00) in winter, CEST (+02:00) from 2026-03-29 to 2026-10-25: month starts move by an hour in UTC.
    [InlineData("2026-02-15T12:00:00Z", "2026-01-31T23:00:00Z", "2026-02-28T23:00:00Z")]
    [InlineData("2026-03-29T12:00:00Z", "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z")] // spans the spring change: 31 days - 1 h
    [InlineData("2026-03-31T21:59:59Z", "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z")] // 23:59:59 local on March 31
    [InlineData("2026-03-31T22:00:00Z", "2026-03-31T22:00:00Z", "2026-04-30T22:00:00Z")] // local midnight of April 1
    [InlineData("2026-10-25T12:00:00Z", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z")] // spans the autumn change: 31 days + 1 h
    [InlineData("2026-10-31T22:59:59Z", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z")]
    [InlineData("2026-10-31T23:00:00Z", "2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z")]
    [InlineData("2026-12-31T23:30:00Z", "2026-12-31T23:00:00Z", "2027-01-31T23:00:00Z")] // already January in Berlin
    public void Berlin_month_boundaries_are_local_midnights_across_daylight_saving_changes(string instant, string start, string end)
    {
        var period = BillingPeriodRule.Monthly(1, Berlin).PeriodOf(At(instant));
        Assert.Equal(At(start), period.Start);
        Assert.Equal(At(end), period.End);
        Assert.Equal(TimeSpan.Zero, period.Start.Offset);
        Assert.True(period.Contains(At(instant)));
    }

    [Fact]
    public void Berlin_periods_that_span_a_change_are_an_hour_shorter_or_longer()
    {
        var rule = BillingPeriodRule.Monthly(1, Berlin);
        Assert.Equal(TimeSpan.FromDays(31) - TimeSpan.FromHours(1), rule.PeriodOf(At("2026-03-10T00:00:00Z")).Length);
        Assert.Equal(TimeSpan.FromDays(31) + TimeSpan.FromHours(1), rule.PeriodOf(At("2026-10-10T00:00:00Z")).Length);
        Assert.Equal(TimeSpan.FromDays(30), rule.PeriodOf(At("2026-06-10T00:00:00Z")).Length);
    }

    [Theory]
    [InlineData("2026-03-20T00:00:00Z", "2026-03-14T23:00:00Z", "2026-04-14T22:00:00Z")]
    [InlineData("2026-03-14T22:59:59Z", "2026-02-14T23:00:00Z", "2026-03-14T23:00:00Z")] // March 14, 23:59:59 local
    [InlineData("2026-10-20T00:00:00Z", "2026-10-14T22:00:00Z", "2026-11-14T23:00:00Z")]
    [InlineData("2027-01-14T23:00:00Z", "2027-01-14T23:00:00Z", "2027-02-14T23:00:00Z")]
    public void Berlin_anchor_day_15_starts_periods_at_local_midnight_of_the_15th(string instant, string start, string end)
    {
        var period = BillingPeriodRule.Monthly(15, Berlin).PeriodOf(At(instant));
        Assert.Equal(At(start), period.Start);
        Assert.Equal(At(end), period.End);
    }

    [Fact]
    public void Consecutive_zoned_periods_tile_time_without_gap_or_overlap()
    {
        var rule = BillingPeriodRule.Monthly(15, Berlin);
        var period = rule.PeriodOf(At("2025-12-20T00:00:00Z"));
        for (var i = 0; i < 36; i++)
        {
            var next = rule.PeriodOf(period.End);
            Assert.Equal(period.End, next.Start);
            Assert.Equal(period, rule.PeriodOf(period.End.AddTicks(-1)));
            Assert.Equal(0, TimeZoneInfo.ConvertTime(next.Start, Berlin).TimeOfDay.Ticks);
            Assert.Equal(15, TimeZoneInfo.ConvertTime(next.Start, Berlin).Day);
            period = next;
        }
    }

    [Fact]
    public void Utc_zone_gives_exactly_the_rule_without_a_zone()
    {
        var start = At("2026-01-01T00:00:00Z");
        foreach (var anchor in new[] { 1, 15, 28, 29, 31 })
        {
            var plain = BillingPeriodRule.Monthly(anchor);
            var utc = BillingPeriodRule.Monthly(anchor, TimeZoneInfo.Utc);
            var etcUtc = BillingPeriodRule.Monthly(anchor, TimeZoneInfo.FindSystemTimeZoneById("Etc/UTC"));
            for (var hours = 0; hours < 3 * 366 * 24; hours += 7)
            {
                var t = start.AddHours(hours);
                Assert.Equal(plain.PeriodOf(t), utc.PeriodOf(t));
                Assert.Equal(plain.PeriodOf(t), etcUtc.PeriodOf(t));
            }
        }

        Assert.Equal(TimeZoneInfo.Utc, BillingPeriodRule.CalendarMonth.TimeZone);
        Assert.Equal(At("2026-11-01T00:00:00Z"), BillingPeriodRule.CalendarMonth.PeriodOf(At("2026-11-30T23:59:59Z")).Start);
    }

    [Fact]
    public void A_local_midnight_the_clock_skips_starts_the_period_when_the_gap_ends()
    {
        // Chile moves its clocks from 00:00 to 01:00 on the first Sunday of September (2026-09-06): that day's
        // midnight does not exist, so the day (and the period) starts at 01:00 -03:00 = 04:00 UTC.
        var santiago = TimeZoneInfo.FindSystemTimeZoneById("America/Santiago");
        Assert.True(santiago.IsInvalidTime(new DateTime(2026, 9, 6, 0, 0, 0, DateTimeKind.Unspecified)));
        var period = BillingPeriodRule.Monthly(6, santiago).PeriodOf(At("2026-09-10T00:00:00Z"));
        Assert.Equal(At("2026-09-06T04:00:00Z"), period.Start);
        Assert.Equal(At("2026-10-06T03:00:00Z"), period.End);
    }
}
