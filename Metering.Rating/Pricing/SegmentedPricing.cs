namespace Metering.Rating.Pricing;

/// <summary>
/// The rule for a total whose SKU is priced by several versions one after another inside one period
/// (docs/pricebooks.md, "Versions that take effect inside a period"). The period's cumulative quantity carries across
/// the change: the lines of a total come in time order; the first takes its price of its own quantity in full,
/// <c>P1(q1)</c> (so a first tier's flat fee charged at zero is due once a period); every later line takes what its
/// price adds on top of the quantity before it, <c>Pi(Q + qi) - Pi(Q)</c>, where Q is the quantity of the lines
/// before it. With one price all along the lines sum to <c>P(total)</c> exactly, as if nothing had changed. Each line
/// is rounded once, with its own book's rounding. Pure.
/// </summary>
public static class SegmentedPricing
{
    /// <summary>The exact, unrounded amount of a line of <paramref name="quantity"/> (<paramref name="count"/> records) after <paramref name="quantityBefore"/> (<paramref name="countBefore"/>) of the lines before it.</summary>
    public static decimal Exact(SkuPrice price, decimal quantityBefore, long countBefore, decimal quantity, long count, bool isFirst)
    {
        ArgumentNullException.ThrowIfNull(price);
        return isFirst
            ? price.Amount(quantityBefore + quantity, countBefore + count)
            : price.Amount(quantityBefore + quantity, countBefore + count) - price.Amount(quantityBefore, countBefore);
    }

    /// <summary>
    /// The tier breakdown of such a line: the first line's as <see cref="SkuPrice.TierBreakdown"/>; a later line's is
    /// the breakdown at the cumulative quantity after it minus the one before it, tier by tier (a volume price, which
    /// re-prices every unit in the tier the cumulative quantity reaches, can show a negative entry for the tier it left).
    /// Entries sum exactly to <see cref="Exact"/> for every model with tiers.
    /// </summary>
    public static IReadOnlyList<TierCharge> Tiers(SkuPrice price, decimal quantityBefore, decimal quantity, bool isFirst)
    {
        ArgumentNullException.ThrowIfNull(price);
        var after = price.TierBreakdown(quantityBefore + quantity);
        if (isFirst)
        {
            return after;
        }

        var before = price.TierBreakdown(quantityBefore);
        if (before.Count == 0)
        {
            return after;
        }

        var lines = new List<TierCharge>();
        foreach (var a in after)
        {
            var b = before.FirstOrDefault(t => t.Tier == a.Tier);
            var entry = b is null ? a : a with { Quantity = a.Quantity - b.Quantity, Amount = a.Amount - b.Amount };
            if (entry.Quantity != 0 || entry.Amount != 0)
            {
                lines.Add(entry);
            }
        }

        foreach (var b in before)
        {
            if (after.All(t => t.Tier != b.Tier) && (b.Quantity != 0 || b.Amount != 0))
            {
                lines.Add(b with { Quantity = -b.Quantity, Amount = -b.Amount });
            }
        }

        return lines.OrderBy(t => t.Tier).ToList();
    }
}
