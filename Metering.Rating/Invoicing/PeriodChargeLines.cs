using Metering.Rating.Money;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Metering.Rating.Pricing;

namespace Metering.Rating.Invoicing;

/// <summary>
/// The recurring fees and the commitment true-up of one account's billing period, the one rule the invoice preview
/// and <c>metering rate --period-lines</c> share: the versions effective at the period's start apply; a contract
/// version's fees, or its commitment, replace the list's when it defines them (each on its own); fees are charged
/// for the whole period (<see cref="PeriodCharges.Fee"/>, prorated when the fee says so); the true-up is the
/// commitment less the usage charged in its currency (<see cref="PeriodCharges.CommitmentTrueUp"/>), never below 0.
/// Every line is in the account's billing currency (<see cref="PriceCatalog.CurrencyOf"/>, else the book's): a fee or
/// commitment without an amount in it has no line (the validator refuses a version that prices in a currency some fee
/// or its commitment lacks, so this happens only for a currency the version offers nowhere, whose usage is unpriced).
/// </summary>
public static class PeriodChargeLines
{
    /// <summary>
    /// The fee lines (in the book's order) then the true-up line, if any, of <paramref name="account"/>'s period starting
    /// at <paramref name="periodStart"/>; <paramref name="usageCharged"/> answers the usage charged so far in a currency.
    /// The catalog must have a list book (its periods cut the period).
    /// </summary>
    public static IReadOnlyList<PeriodChargeLine> Of(PriceCatalog prices, string account, DateTimeOffset periodStart, Func<Currency, decimal> usageCharged)
    {
        ArgumentNullException.ThrowIfNull(prices);
        var list = prices.List ?? throw new ArgumentException("period charge lines need a list price book", nameof(prices));
        var period = list.Periods.PeriodOf(periodStart);
        return Of(prices, account, period, period.Start, null, usageCharged);
    }

    /// <summary>
    /// The same lines for an explicit <paramref name="period"/> (the account's, whatever rule cut it) and a subscription
    /// active during [<paramref name="activeFrom"/>, <paramref name="activeTo"/>) (null = open-ended): each fee is
    /// <see cref="PeriodCharges.Fee"/> over that active part, so a prorated fee starting mid-period is charged in part.
    /// The versions effective at the period's start apply; without a list book only a contract's lines can appear.
    /// </summary>
    public static IReadOnlyList<PeriodChargeLine> Of(PriceCatalog prices, string account, BillingPeriod period, DateTimeOffset activeFrom, DateTimeOffset? activeTo, Func<Currency, decimal> usageCharged)
    {
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(usageCharged);
        var list = prices.List;
        var listVersion = list?.VersionAt(period.Start);
        var contract = prices.ContractOf(account);
        var contractVersion = contract?.VersionAt(period.Start);
        var (feeBook, feeVersion) = contractVersion is { Fees.Count: > 0 } ? (contract, contractVersion) : (list, listVersion);
        var (commitBook, commitVersion) = contractVersion?.MinimumCommitment is not null ? (contract, contractVersion) : (list, listVersion);
        var accountCurrency = prices.CurrencyOf(account);
        var lines = new List<PeriodChargeLine>();
        if (feeBook is not null && feeVersion is not null)
        {
            var currency = accountCurrency ?? feeBook.Currency;
            foreach (var fee in feeVersion.Fees)
            {
                if (fee.AmountIn(currency, feeBook.Currency) is not { } feeAmount)
                {
                    continue;
                }

                var amount = PeriodCharges.Fee(feeAmount, fee.Prorate, period, activeFrom, activeTo, currency, feeBook.Rounding);
                lines.Add(new PeriodChargeLine(PeriodChargeLine.Fee, period, fee.Id, null, null, amount, feeBook, feeVersion, currency));
            }
        }

        if (commitBook is not null && commitVersion is not null && commitVersion.CommitmentIn(accountCurrency ?? commitBook.Currency, commitBook.Currency) is { } commitment)
        {
            var currency = accountCurrency ?? commitBook.Currency;
            var charged = usageCharged(currency);
            var trueUp = PeriodCharges.CommitmentTrueUp(commitment, charged, currency, commitBook.Rounding);
            lines.Add(new PeriodChargeLine(PeriodChargeLine.CommitmentTrueUp, period, null, commitment, charged, trueUp, commitBook, commitVersion, currency));
        }

        return lines;
    }
}
