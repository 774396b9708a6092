namespace Metering.Rating.PriceBooks;

/// <summary>What a quota measures per billing period.</summary>
public enum QuotaMetric
{
    /// <summary>The cumulative quantity of one SKU, in its raw metered unit.</summary>
    Quantity,

    /// <summary>The charged amount of all the account's SKUs, in one currency.</summary>
    Amount,
}
