using Metering.Rating.PriceBooks;

namespace Metering.Rating.Statements;

/// <summary>
/// Re-rating a finalised period (docs/statements.md, "Re-rating"): the same rebuild the ledger uses for late usage
/// (<see cref="StatementRevision.Rebuild"/>) under the billing books and under draft books, and the difference between
/// the two; and the lines a re-rate books when earlier re-rates of the same period are already booked. Pure.
/// </summary>
public static class Rerating
{
    /// <summary>
    /// Re-rates <paramref name="final"/> (a final statement) with the <paramref name="lateUsage"/> of its period booked so
    /// far (signed changes per SKU, as <see cref="StatementRevision.Rebuild"/> takes them): baseline under
    /// <paramref name="billing"/>, recomputed under <paramref name="draft"/>, and the <see cref="AdjustmentLine.Rerate"/>
    /// lines between them. The final statement's own adjustment lines (booked into it from earlier periods) are on
    /// neither side: they stay as they were billed.
    /// </summary>
    public static RerateDifference Compute(Statement final, IReadOnlyList<SkuUsage> lateUsage, PriceCatalog billing, PriceCatalog draft)
    {
        ArgumentNullException.ThrowIfNull(final);
        ArgumentNullException.ThrowIfNull(lateUsage);
        ArgumentNullException.ThrowIfNull(billing);
        ArgumentNullException.ThrowIfNull(draft);
        var baseline = StatementRevision.Rebuild(final, lateUsage, billing);
        var recomputed = StatementRevision.Rebuild(final, lateUsage, draft);
        var lines = StatementDifference.Between(baseline, recomputed, AdjustmentLine.Rerate);

        // The billing books reproduce what was billed when the final statement, without its adjustments and rebuilt
        // with no late usage, comes out line for line the same (same content hash).
        var asBilled = new Statement(final.Account, final.Period, final.Terms, final.Usage, final.Fees, final.Commitments, []);
        var reproduced = lateUsage.Count == 0 ? baseline : StatementRevision.Rebuild(final, [], billing);
        return new RerateDifference(final.Account, baseline, recomputed, lines, reproduced.ContentHash == asBilled.ContentHash);
    }

    /// <summary>
    /// The lines to book for a re-rate whose difference against the period as billed is <paramref name="lines"/>, when
    /// <paramref name="earlier"/> re-rate lines of the same account and period are already booked: every earlier line is
    /// taken back (negated) and the new lines charged, except that an earlier line equal to a new one cancels it (a
    /// multiset). So the period as billed plus every booked re-rate line equals the newest recomputed statement, and a
    /// re-rate under the books of the last one books nothing.
    /// </summary>
    public static IReadOnlyList<AdjustmentLine> Net(IReadOnlyList<AdjustmentLine> earlier, IReadOnlyList<AdjustmentLine> lines)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        ArgumentNullException.ThrowIfNull(lines);
        var pending = new Dictionary<AdjustmentLine, int>();
        foreach (var l in lines)
        {
            pending[l] = pending.GetValueOrDefault(l) + 1;
        }

        var net = new List<AdjustmentLine>();
        foreach (var e in earlier)
        {
            if (pending.TryGetValue(e, out var n) && n > 0)
            {
                pending[e] = n - 1;
            }
            else
            {
                net.Add(e with { Quantity = -e.Quantity, Amount = -e.Amount, Reason = $"reversal of: {e.Reason}" });
            }
        }

        foreach (var l in lines)
        {
            if (pending.TryGetValue(l, out var n) && n > 0)
            {
                pending[l] = n - 1;
                net.Add(l);
            }
        }

        return net;
    }

    /// <summary>
    /// <paramref name="line"/>, a line of <see cref="StatementDifference.Between"/>(<paramref name="baseline"/>,
    /// <paramref name="recomputed"/>), with what it is about and the amounts before and after in its currency: a usage
    /// line's SKU (a line in another currency counts 0 on that side, so a take-back reads "X -> 0" and the new charge
    /// "0 -> Y"), a fee's id, the commitment true-up.
    /// </summary>
    public static RerateLine Describe(AdjustmentLine line, Statement baseline, Statement recomputed)
    {
        ArgumentNullException.ThrowIfNull(line);
        ArgumentNullException.ThrowIfNull(baseline);
        ArgumentNullException.ThrowIfNull(recomputed);
        if (line.Reason.StartsWith("reversal of: ", StringComparison.Ordinal))
        {
            return new RerateLine(line, line.Reason, null, null);
        }

        if (line.Sku is { } sku)
        {
            decimal UsageIn(Statement s) => s.Usage.Where(u => u.Sku == sku && u.Group == line.Group && u.Currency == line.Currency).Sum(u => u.Amount);
            return new RerateLine(line, line.Group.Length == 0 ? "usage " + sku : $"usage {sku} {line.Group}", UsageIn(baseline), UsageIn(recomputed));
        }

        if (line.Reason.StartsWith("commitment_true_up:", StringComparison.Ordinal))
        {
            decimal TrueUpIn(Statement s) => s.Commitments.Where(c => c.Currency == line.Currency).Sum(c => c.TrueUp);
            return new RerateLine(line, "commitment_true_up", TrueUpIn(baseline), TrueUpIn(recomputed));
        }

        // A fee line's reason is "fee ID: BEFORE -> AFTER CUR" (StatementDifference); the id is matched against the fees.
        foreach (var id in baseline.Fees.Concat(recomputed.Fees).Select(f => f.FeeId).Distinct(StringComparer.Ordinal))
        {
            if (line.Reason.StartsWith($"fee {id}: ", StringComparison.Ordinal))
            {
                decimal FeeIn(Statement s) => s.Fees.Where(f => f.FeeId == id && f.Currency == line.Currency).Sum(f => f.Amount);
                return new RerateLine(line, "fee " + id, FeeIn(baseline), FeeIn(recomputed));
            }
        }

        return new RerateLine(line, line.Reason, null, null);
    }
}
