using Metering.Rating.Periods;

namespace Metering.UnitTests.Rating.Periods;

public sealed class AccountPeriodsTests
{
    private static readonly BillingPeriod November = new(new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));

    private static DateTimeOffset Utc(int month, int day, int hour = 0) => new(2026, month, day, hour, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(1, "UTC", 11, 1, 0, 12, 1, 0)]
    [InlineData(15, "UTC", 11, 15, 0, 12, 15, 0)]
    [InlineData(28, "UTC", 11, 28, 0, 12, 28, 0)]
    [InlineData(1, "Europe/Berlin", 10, 31, 23, 11, 30, 23)]      // local midnight, CET
    [InlineData(1, "America/Los_Angeles", 11, 1, 7, 12, 1, 8)]  // PDT until Nov 1 09:00 UTC, then PST
    [InlineData(1, "Asia/Tokyo", 10, 31, 15, 11, 30, 15)]
    public void A_close_of_November_closes_the_period_each_rule_starts_in_November_on_its_own_clock(int anchor, string zone, int sm, int sd, int sh, int em, int ed, int eh)
    {
        var rule = BillingPeriodRule.Monthly(anchor, TimeZoneInfo.FindSystemTimeZoneById(zone));
        Assert.Equal(new BillingPeriod(Utc(sm, sd, sh), Utc(em, ed, eh)), rule.PeriodLabelledBy(November));
    }

    [Fact]
    public void A_day_label_names_the_period_starting_that_day_and_no_period_for_a_day_inside_one()
    {
        var rule = BillingPeriodRule.Monthly(15);
        Assert.Equal(new BillingPeriod(Utc(11, 15), Utc(12, 15)), rule.PeriodLabelledBy(new BillingPeriod(Utc(11, 15), Utc(11, 16))));
        Assert.Null(rule.PeriodLabelledBy(new BillingPeriod(Utc(11, 3), Utc(11, 4))));
    }

    [Fact]
    public void Accounts_with_a_rule_of_their_own_follow_it_and_its_closes_and_the_others_the_list_books()
    {
        var list = BillingPeriodRule.CalendarMonth;
        var fifteenth = new AccountPeriodRule(BillingPeriodRule.Monthly(15), new HashSet<DateTimeOffset> { Utc(10, 15) });
        var periods = new AccountPeriods(list, new HashSet<DateTimeOffset> { Utc(11, 1) }, new Dictionary<string, AccountPeriodRule> { ["a15"] = fifteenth });

        Assert.Equal(new BillingPeriod(Utc(10, 15), Utc(11, 15)), periods.PeriodOf("a15", Utc(11, 14)));
        Assert.Equal(November, periods.PeriodOf("other", Utc(11, 14)));
        Assert.True(periods.IsClosed("a15", Utc(10, 15)));
        Assert.False(periods.IsClosed("a15", Utc(11, 1)));  // the list book's close is not the account's
        Assert.True(periods.IsClosed("other", Utc(11, 1)));
        Assert.Equal(new BillingPeriod(Utc(11, 15), Utc(12, 15)), periods.NextOpen("a15", new BillingPeriod(Utc(10, 15), Utc(11, 15))));
        Assert.Equal(new BillingPeriod(Utc(12, 1), new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero)), periods.NextOpen("other", November));
    }
}
