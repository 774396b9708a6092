using System.Runtime.CompilerServices;
using Metering.Rating.Money;
using Metering.Rating.Pricing;

namespace Metering.Rating.Incremental;

/// <summary>
/// Incremental (streaming) rating. Tiers apply to the period's cumulative quantity, but usage arrives in windows;
/// the charge of a window is <c>round(price(cumulative after)) - round(price(cumulative before))</c>, rounding
/// once per line item to the currency's minor units. The differences telescope: whatever the split of a period
/// into windows and whatever their order of arrival, the window charges sum exactly to round(price(total)), the
/// invoice amount. A window charge can be negative (volume tiers: crossing into a cheaper tier re-prices every
/// unit); it is issued as a credit line (docs/pricebooks.md). Allocation-free; not thread-safe per state.
/// </summary>
public static class WindowRater
{
    /// <summary>Rates one window of <paramref name="quantity"/> from <paramref name="transactions"/> records, updating <paramref name="state"/>; returns the window's charge.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static decimal RateWindow(SkuPrice price, ref PeriodRatingState state, decimal quantity, long transactions, int minorUnits, RoundingMode rounding)
    {
        ArgumentNullException.ThrowIfNull(price);
        state.Quantity += quantity;
        state.Transactions += transactions;
        var total = Rounding.Round(price.Amount(state.Quantity, state.Transactions), minorUnits, rounding);
        var charge = total - state.Charged;
        state.Charged = total;
        return charge;
    }

    /// <summary>
    /// Rates one transaction of a percentage price rated per transaction (<see cref="SkuPrice.NeedsTransactions"/>:
    /// bounds, free transactions or a free amount); returns its charge. The state's quantity and transaction count
    /// before it are what decide its free allowance, so transactions must come in the period's order.
    /// </summary>
    public static decimal RateTransaction(SkuPrice price, ref PeriodRatingState state, decimal amount, int minorUnits, RoundingMode rounding)
    {
        ArgumentNullException.ThrowIfNull(price);
        state.TransactionFees += price.TransactionFee(amount, state.Quantity, state.Transactions);
        state.Quantity += amount;
        state.Transactions++;
        var total = Rounding.Round(state.TransactionFees, minorUnits, rounding);
        var charge = total - state.Charged;
        state.Charged = total;
        return charge;
    }
}
