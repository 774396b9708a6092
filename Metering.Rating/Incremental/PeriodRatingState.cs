
namespace Metering.Rating.Incremental;

/// <summary>
/// What has been rated so far in one (account, SKU, period): the cumulative quantity and transactions, the exact
/// unrounded amount, and the amount already charged (rounded). A plain struct owned by one caller.
/// </summary>
public struct PeriodRatingState
{
    /// <summary>Cumulative raw quantity of the period.</summary>
    public decimal Quantity;

    /// <summary>Cumulative transactions (records) of the period.</summary>
    public long Transactions;

    /// <summary>Cumulative fee of individually rated transactions (percentage with bounds), unrounded.</summary>
    public decimal TransactionFees;

    /// <summary>Sum of the rounded charges issued so far: always round(price(cumulative)).</summary>
    public decimal Charged;
}
