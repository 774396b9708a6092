using Metering.Rating.Money;
using Metering.Rating.Periods;

namespace Metering.Rating.Pricing;

/// <summary>Charges that belong to a whole billing period rather than to usage: recurring fees and commitment true-ups.</summary>
public static class PeriodCharges
{
    /// <summary>
    /// A recurring fee for the part of <paramref name="period"/> during which the subscription was active
    /// ([<paramref name="activeFrom"/>, <paramref name="activeTo"/>) clipped to the period). Proration is by
    /// elapsed time at 100 ns resolution: fee x active / period length, rounded once to minor units.
    /// Without proration any active time charges the full fee.
    /// </summary>
    public static decimal Fee(decimal amount, bool prorate, BillingPeriod period, DateTimeOffset activeFrom, DateTimeOffset? activeTo, Currency currency, RoundingMode rounding)
    {
        ArgumentNullException.ThrowIfNull(currency);
        var from = activeFrom > period.Start ? activeFrom : period.Start;
        var to = activeTo is { } t && t < period.End ? t : period.End;
        if (to <= from)
        {
            return 0;
        }

        if (!prorate)
        {
            return Rounding.Round(amount, currency.MinorUnits, rounding);
        }

        var share = (decimal)(to - from).Ticks / period.Length.Ticks;
        return Rounding.Round(amount * share, currency.MinorUnits, rounding);
    }

    /// <summary>The true-up line of a minimum commitment: max(0, commitment - usage charged in the period), rounded.</summary>
    public static decimal CommitmentTrueUp(decimal commitment, decimal usageCharged, Currency currency, RoundingMode rounding)
    {
        ArgumentNullException.ThrowIfNull(currency);
        var gap = commitment - usageCharged;
        return gap > 0 ? Rounding.Round(gap, currency.MinorUnits, rounding) : 0;
    }
}
