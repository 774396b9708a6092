using Metering.Rating.Money;
using Metering.Rating.PriceBooks;
using Metering.Rating.Pricing;

namespace Metering.Rating.Invoicing;

/// <summary>
/// The recurring fees and the commitment true-up of one account's billing period, the one rule the invoice preview
/// and <c>metering rate --period-lines</c> share: the versions effective at the period's start apply; a contract
/// version's fees, or its commitment, replace the list's when it defines them (each on its own); fees are charged
/// for the whole period (<see cref="PeriodCharges.Fee"/>, prorated when the fee says so); the true-up is the
/// commitment less the usage charged in its currency (<see cref="PeriodCharges.CommitmentTrueUp"/>), never below 0.
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
        ArgumentNullException.ThrowIfNull(usageCharged);
        var list = prices.List ?? throw new ArgumentException("period charge lines need a list price book", nameof(prices));
        var period = list.Periods.PeriodOf(periodStart);
        var listVersion = list.VersionAt(periodStart);
        var contract = prices.ContractOf(account);
        var contractVersion = contract?.VersionAt(periodStart);
        var (feeBook, feeVersion) = contractVersion is { Fees.Count: > 0 } ? (contract!, contractVersion) : (list, listVersion);
        var (commitBook, commitVersion) = contractVersion?.MinimumCommitment is not null ? (contract!, contractVersion) : (list, listVersion);
        var lines = new List<PeriodChargeLine>();
        foreach (var fee in feeVersion?.Fees ?? [])
        {
            var amount = PeriodCharges.Fee(fee.Amount, fee.Prorate, period, period.Start, null, feeBook.Currency, feeBook.Rounding);
            lines.Add(new PeriodChargeLine(PeriodChargeLine.Fee, period, fee.Id, null, null, amount, feeBook, feeVersion!));
        }

        if (commitVersion?.MinimumCommitment is { } commitment)
        {
            var charged = usageCharged(commitBook.Currency);
            var trueUp = PeriodCharges.CommitmentTrueUp(commitment, charged, commitBook.Currency, commitBook.Rounding);
            lines.Add(new PeriodChargeLine(PeriodChargeLine.CommitmentTrueUp, period, null, commitment, charged, trueUp, commitBook, commitVersion));
        }

        return lines;
    }
}
