using System.Globalization;

namespace Metering.Rating.Statements;

/// <summary>
/// The adjustment lines that turn a final statement into a recomputed one of the same account and period (late usage,
/// a correction, a re-rate), computed on the two whole statements: per SKU the change of its usage line's amount and
/// quantity, per fee the change of its amount, per currency the change of the commitment true-up, and the adjustment
/// lines one has and the other has not. Because the true-up is recomputed with the usage, usage that stays under the
/// commitment nets to zero (usage +x, true-up -x) and usage beyond it costs only the excess. For every currency,
/// final total + the lines' amounts = recomputed total, exactly (docs/statements.md, "The difference rule"). Pure.
/// </summary>
public static class StatementDifference
{
    /// <summary>
    /// The difference lines from <paramref name="final"/> to <paramref name="recomputed"/>, of kind <paramref name="kind"/>
    /// (the caller knows why it recomputed), each referencing the final statement's period (an ISO 8601 interval).
    /// Zero-amount lines appear only for a SKU whose quantity changed; adjustment lines of either statement keep their own
    /// kind (a line only the final statement has comes back negated). Empty when nothing changed.
    /// </summary>
    public static IReadOnlyList<AdjustmentLine> Between(Statement final, Statement recomputed, string kind)
    {
        ArgumentNullException.ThrowIfNull(final);
        ArgumentNullException.ThrowIfNull(recomputed);
        if (!AdjustmentLine.IsKnownKind(kind))
        {
            throw new ArgumentException($"adjustment kind '{kind}' is not one of late_usage, correction, rerate, manual", nameof(kind));
        }

        if (final.Account != recomputed.Account || final.Period != recomputed.Period)
        {
            throw new ArgumentException(
                $"a difference is between two statements of one account and period: '{final.Account}' {final.Period} vs '{recomputed.Account}' {recomputed.Period}", nameof(recomputed));
        }

        var reference = final.Period.ToString();
        var lines = new List<AdjustmentLine>();
        Usage(final, recomputed, kind, reference, lines);

        var fees = Sums(final.Fees, recomputed.Fees, f => (f.FeeId, f.Currency), f => f.Amount);
        foreach (var ((id, currency), (before, after)) in fees)
        {
            if (after != before)
            {
                lines.Add(new AdjustmentLine(kind, reference, null, null, after - before, currency, $"fee {id}: {Text(before)} -> {Text(after)} {currency}"));
            }
        }

        var trueUps = Sums(final.Commitments, recomputed.Commitments, c => (c.Currency, ""), c => c.TrueUp);
        foreach (var ((currency, _), (before, after)) in trueUps)
        {
            if (after != before)
            {
                lines.Add(new AdjustmentLine(kind, reference, null, null, after - before, currency,
                    $"commitment_true_up: {Text(before)} -> {Text(after)} {currency} (usage charged {Text(UsageCharged(final, currency))} -> {Text(UsageCharged(recomputed, currency))})"));
            }
        }

        // Adjustment lines compare as values (a multiset): what only the recomputed statement has is added, what only the
        // final statement has is taken back.
        var left = new Dictionary<AdjustmentLine, int>();
        foreach (var a in final.Adjustments)
        {
            left[a] = left.GetValueOrDefault(a) + 1;
        }

        foreach (var a in recomputed.Adjustments)
        {
            if (left.TryGetValue(a, out var n) && n > 0)
            {
                left[a] = n - 1;
            }
            else
            {
                lines.Add(a);
            }
        }

        foreach (var a in final.Adjustments)
        {
            if (left.TryGetValue(a, out var n) && n > 0)
            {
                left[a] = n - 1;
                lines.Add(a with { Quantity = -a.Quantity, Amount = -a.Amount, Reason = $"reversal of: {a.Reason}" });
            }
        }

        return lines;
    }

    private static void Usage(Statement final, Statement recomputed, string kind, string reference, List<AdjustmentLine> lines)
    {
        // One line per SKU, dimension group (UsageLine.Group) and price segment, in SKU, group then time order.
        var before = final.Usage.ToDictionary(u => (u.Sku, u.Group, u.SegmentIn(final.Period)));
        var after = recomputed.Usage.ToDictionary(u => (u.Sku, u.Group, u.SegmentIn(recomputed.Period)));
        foreach (var (sku, group, from) in before.Keys.Union(after.Keys).OrderBy(k => k.Sku, StringComparer.Ordinal).ThenBy(k => k.Group, StringComparer.Ordinal).ThenBy(k => k.Item3))
        {
            var f = before.GetValueOrDefault((sku, group, from));
            var r = after.GetValueOrDefault((sku, group, from));
            var fQuantity = f?.RecordedQuantity ?? 0;
            var rQuantity = r?.RecordedQuantity ?? 0;
            var named = (group.Length == 0 ? sku : $"{sku} {group}") + SkuUsage.SegmentText(from);
            if (f?.Currency == r?.Currency)
            {
                // Unpriced on both sides (or absent) carries no money: nothing to book.
                if (f?.Currency is not { } currency)
                {
                    continue;
                }

                var fAmount = f.Amount;
                var rAmount = r!.Amount;
                if (rAmount != fAmount || rQuantity != fQuantity)
                {
                    lines.Add(new AdjustmentLine(kind, reference, sku, rQuantity - fQuantity, rAmount - fAmount, currency,
                        $"usage {named}: {Text(fQuantity)} -> {Text(rQuantity)} {r.RecordedUnit}, {Text(fAmount)} -> {Text(rAmount)} {currency} ({r.PriceBook} {r.PriceBookVersion})") { Group = group });
                }

                continue;
            }

            // The currency changed (a re-rate under another book), or the SKU became priced or unpriced: take the old line
            // back in its currency and charge the new one in its own.
            if (f?.Currency is { } oldCurrency)
            {
                lines.Add(new AdjustmentLine(kind, reference, sku, -fQuantity, -f.Amount, oldCurrency,
                    $"usage {named}: {Text(f.Amount)} {oldCurrency} ({f.PriceBook} {f.PriceBookVersion}) taken back") { Group = group });
            }

            if (r?.Currency is { } newCurrency)
            {
                lines.Add(new AdjustmentLine(kind, reference, sku, rQuantity, r.Amount, newCurrency,
                    $"usage {named}: {Text(rQuantity)} {r.RecordedUnit} charged {Text(r.Amount)} {newCurrency} ({r.PriceBook} {r.PriceBookVersion})") { Group = group });
            }
        }
    }

    private static SortedDictionary<(string, string), (decimal Before, decimal After)> Sums<T>(IEnumerable<T> before, IEnumerable<T> after, Func<T, (string, string)> key, Func<T, decimal> amount)
    {
        var sums = new SortedDictionary<(string, string), (decimal Before, decimal After)>(Comparer<(string, string)>.Create((x, y) =>
        {
            var c = string.CompareOrdinal(x.Item1, y.Item1);
            return c != 0 ? c : string.CompareOrdinal(x.Item2, y.Item2);
        }));
        foreach (var b in before)
        {
            var k = key(b);
            var s = sums.GetValueOrDefault(k);
            sums[k] = (s.Before + amount(b), s.After);
        }

        foreach (var a in after)
        {
            var k = key(a);
            var s = sums.GetValueOrDefault(k);
            sums[k] = (s.Before, s.After + amount(a));
        }

        return sums;
    }

    private static decimal UsageCharged(Statement statement, string currency) =>
        statement.Commitments.Where(c => c.Currency == currency).Sum(c => c.UsageCharged);

    private static string Text(decimal value) => value.ToString(CultureInfo.InvariantCulture);
}
