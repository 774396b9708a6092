using Metering.Rating.Money;
using Metering.Rating.Periods;
using Metering.Rating.Pricing;

namespace Metering.UnitTests.Rating;

public class PeriodChargesTests
{
    private static readonly Currency Usd = Currency.Get("USD");
    private static readonly BillingPeriod November = BillingPeriodRule.CalendarMonth.PeriodOf(new DateTimeOffset(2026, 11, 10, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void A_prorated_fee_is_charged_for_the_active_share_of_the_period()
    {
        // Active from Nov 16 00:00: 15 of 30 days -> 20.00 x 0.5 = 10.00.
        Assert.Equal(10.00m, PeriodCharges.Fee(20.00m, true, November, new DateTimeOffset(2026, 11, 16, 0, 0, 0, TimeSpan.Zero), null, Usd, RoundingMode.HalfUp));
        // 10 of 30 days of 100.00 = 33.333... -> 33.33.
        Assert.Equal(33.33m, PeriodCharges.Fee(100m, true, November, new DateTimeOffset(2026, 11, 21, 0, 0, 0, TimeSpan.Zero), null, Usd, RoundingMode.HalfUp));
        Assert.Equal(20.00m, PeriodCharges.Fee(20.00m, true, November, November.Start.AddYears(-1), null, Usd, RoundingMode.HalfUp));
    }

    [Fact]
    public void An_unprorated_fee_is_whole_when_active_at_all_and_zero_when_not()
    {
        Assert.Equal(20.00m, PeriodCharges.Fee(20.00m, false, November, November.End.AddDays(-1), null, Usd, RoundingMode.HalfUp));
        Assert.Equal(0m, PeriodCharges.Fee(20.00m, false, November, November.End, null, Usd, RoundingMode.HalfUp));
        Assert.Equal(0m, PeriodCharges.Fee(20.00m, true, November, November.Start.AddDays(-10), November.Start, Usd, RoundingMode.HalfUp));
    }

    [Fact]
    public void A_commitment_true_up_covers_only_the_gap()
    {
        Assert.Equal(4970.00m, PeriodCharges.CommitmentTrueUp(5000m, 30m, Usd, RoundingMode.HalfUp));
        Assert.Equal(0m, PeriodCharges.CommitmentTrueUp(25m, 1719m, Usd, RoundingMode.HalfUp));
        Assert.Equal(0m, PeriodCharges.CommitmentTrueUp(25m, 25m, Usd, RoundingMode.HalfUp));
    }

    [Fact]
    public void Zero_minor_unit_currencies_round_to_whole_units()
    {
        Assert.Equal(667m, PeriodCharges.Fee(2000m, true, November, new DateTimeOffset(2026, 11, 21, 0, 0, 0, TimeSpan.Zero), null, Currency.Get("JPY"), RoundingMode.HalfUp));
    }
}
