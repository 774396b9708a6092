using Metering.Rating.PriceBooks;

namespace Metering.Rating.Statements;

/// <summary>
/// A closed period's statement rebuilt with usage it did not have when it was finalised (late usage, corrections):
/// the same account, period and terms, each SKU's quantity and record count from the final statement's usage lines
/// plus the changes, rated from scratch by <see cref="StatementBuilder.Build"/>. The final statement's own adjustment
/// lines are left out of the rebuild: they are the same on both sides of a <see cref="StatementDifference"/> and count
/// against nothing, so they can change no difference. Pure.
/// </summary>
public static class StatementRevision
{
    /// <summary>
    /// <paramref name="final"/>'s usage with <paramref name="changes"/> added (signed quantity and record count per SKU;
    /// a SKU the statement did not have is added), rated with <paramref name="prices"/>. A SKU whose quantity or count
    /// would go negative throws <see cref="ArgumentException"/> naming it: a correction can take back at most what was billed.
    /// </summary>
    public static Statement Rebuild(Statement final, IEnumerable<SkuUsage> changes, PriceCatalog prices)
    {
        ArgumentNullException.ThrowIfNull(final);
        ArgumentNullException.ThrowIfNull(changes);
        ArgumentNullException.ThrowIfNull(prices);
        var lines = Combine([.. final.Usage.Select(u => new SkuUsage(u.Sku, u.RecordedQuantity, u.RecordCount, Group: u.Group, PriceFrom: u.SegmentIn(final.Period))
        {
            RatedAmount = u.Priced ? u.Amount : null, RatedHash = u.PriceBookHash,
        })], changes, final.Account, final.Period);
        return StatementBuilder.Build(new StatementInput(final.Account, final.Period, final.Terms, lines, [], prices));
    }

    /// <summary>
    /// Per-SKU (and dimension group and price segment) usage totals with signed changes added (a SKU or group only the changes have is
    /// added); one total per SKU and group, by SKU then group. One taken below zero quantity or records throws
    /// <see cref="ArgumentException"/> naming it.
    /// </summary>
    public static IReadOnlyList<SkuUsage> Combine(IEnumerable<SkuUsage> totals, IEnumerable<SkuUsage> changes, string account, Periods.BillingPeriod period)
    {
        ArgumentNullException.ThrowIfNull(totals);
        ArgumentNullException.ThrowIfNull(changes);
        var usage = new SortedDictionary<(string Sku, string Group, DateTimeOffset? From), (decimal Quantity, long Count, Rated Rated, SkuUsage? MeterUnpriced)>(Comparer<(string Sku, string Group, DateTimeOffset? From)>.Create((x, y) =>
        {
            var c = string.CompareOrdinal(x.Sku, y.Sku);
            c = c != 0 ? c : string.CompareOrdinal(x.Group, y.Group);
            return c != 0 ? c : Nullable.Compare(x.From, y.From);
        }));
        foreach (var u in totals.Concat(changes))
        {
            var key = (u.Sku, u.Group ?? "", u.PriceFrom);
            var (quantity, count, rated, meterUnpriced) = usage.TryGetValue(key, out var held) ? held : (0m, 0L, Rated.Nothing, null);
            // A meter that could not give an exact quantity (over its bound) leaves the line unpriced, whatever is added.
            usage[key] = (quantity + u.Quantity, count + u.RecordCount, rated.Add(u), meterUnpriced ?? (u.MeterUnpriced is null ? null : u));
        }

        var lines = new List<SkuUsage>(usage.Count);
        foreach (var ((sku, group, from), (quantity, count, rated, meterUnpriced)) in usage)
        {
            if (quantity < 0 || count < 0)
            {
                var named = (group.Length == 0 ? "" : $" group {group}") + SkuUsage.SegmentText(from);
                throw new ArgumentException($"SKU '{sku}'{named} of '{account}' {period}: the changes take it to quantity {quantity} and {count} records, below zero", nameof(changes));
            }

            lines.Add(new SkuUsage(sku, quantity, count, Group: group, PriceFrom: from)
            {
                RatedAmount = rated.Known ? rated.Amount : null, RatedHash = rated.Hash, MeterUnpriced = meterUnpriced?.MeterUnpriced, MeterDetail = meterUnpriced?.MeterDetail,
            });
        }

        return lines;
    }

    /// <summary>
    /// The rated amounts of the usage summed into one line (<see cref="SkuUsage.RatedAmount"/>): known only while every
    /// part has one and they name no two versions; a part without one (a correction) makes the sum unknown.
    /// </summary>
    private readonly record struct Rated(bool Known, decimal Amount, string? Hash)
    {
        public static Rated Nothing => new(true, 0, null);

        public Rated Add(SkuUsage u)
        {
            if (!Known || u.RatedAmount is not { } amount || (Hash is not null && u.RatedHash is not null && Hash != u.RatedHash))
            {
                return new Rated(false, 0, null);
            }

            return new Rated(true, Amount + amount, Hash ?? u.RatedHash);
        }
    }
}
