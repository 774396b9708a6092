using Metering.Rating.Periods;

namespace Metering.Rating.Statements;

/// <summary>
/// The statement of one account for one billing period: usage lines (one per SKU), fee lines, commitment lines,
/// adjustment lines, the subtotals and total per currency, and a content hash. Immutable. The constructor puts every
/// kind of line in its canonical order (ordinal order of the line's serialised form, <see cref="StatementHash"/>), derives
/// <see cref="Totals"/> from the lines and <see cref="ContentHash"/> from everything, so the order lines are given in
/// changes nothing and a statement read back from storage proves it is unchanged when its recomputed hash equals the
/// stored one. Thread-safe.
/// </summary>
public sealed class Statement
{
    /// <summary>Creates a statement from its lines; derives the totals and the content hash.</summary>
    public Statement(string account, BillingPeriod period, StatementTerms terms, IEnumerable<UsageLine> usage, IEnumerable<FeeLine> fees,
        IEnumerable<CommitmentLine> commitments, IEnumerable<AdjustmentLine> adjustments)
    {
        ArgumentException.ThrowIfNullOrEmpty(account);
        ArgumentNullException.ThrowIfNull(terms);
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentNullException.ThrowIfNull(fees);
        ArgumentNullException.ThrowIfNull(commitments);
        ArgumentNullException.ThrowIfNull(adjustments);
        Account = account;
        Period = period;
        Terms = terms;
        Usage = [.. usage.OrderBy(StatementHash.LineOf, StringComparer.Ordinal)];
        Fees = [.. fees.OrderBy(StatementHash.LineOf, StringComparer.Ordinal)];
        Commitments = [.. commitments.OrderBy(StatementHash.LineOf, StringComparer.Ordinal)];
        Adjustments = [.. adjustments.OrderBy(StatementHash.LineOf, StringComparer.Ordinal)];
        Totals = TotalsOf(Usage, Fees, Commitments, Adjustments);
        ContentHash = StatementHash.Of(this);
    }

    /// <summary>The account.</summary>
    public string Account { get; }

    /// <summary>The billing period [start, end).</summary>
    public BillingPeriod Period { get; }

    /// <summary>The account terms the statement was built under.</summary>
    public StatementTerms Terms { get; }

    /// <summary>Usage lines, one per SKU, in canonical order (by SKU).</summary>
    public IReadOnlyList<UsageLine> Usage { get; }

    /// <summary>Recurring fee lines, in canonical order (by fee id).</summary>
    public IReadOnlyList<FeeLine> Fees { get; }

    /// <summary>Minimum-commitment lines (at most one per currency), in canonical order.</summary>
    public IReadOnlyList<CommitmentLine> Commitments { get; }

    /// <summary>Adjustment lines booked into the period, in canonical order.</summary>
    public IReadOnlyList<AdjustmentLine> Adjustments { get; }

    /// <summary>Subtotals and total per currency, by currency code (ordinal); a currency appears when any line is in it.</summary>
    public IReadOnlyList<CurrencyTotal> Totals { get; }

    /// <summary>"sha256:" and the lowercase hex SHA-256 of <see cref="StatementHash.CanonicalText"/> (docs/statements.md).</summary>
    public string ContentHash { get; }

    /// <summary>The total in <paramref name="currency"/> (0 when no line is in it).</summary>
    public decimal TotalIn(string currency) => Totals.FirstOrDefault(t => t.Currency == currency)?.Total ?? 0;

    private static CurrencyTotal[] TotalsOf(IReadOnlyList<UsageLine> usage, IReadOnlyList<FeeLine> fees, IReadOnlyList<CommitmentLine> commitments, IReadOnlyList<AdjustmentLine> adjustments)
    {
        var sums = new SortedDictionary<string, decimal[]>(StringComparer.Ordinal);
        decimal[] Of(string currency)
        {
            if (!sums.TryGetValue(currency, out var s))
            {
                s = new decimal[4];
                sums.Add(currency, s);
            }

            return s;
        }

        foreach (var u in usage)
        {
            if (u.Currency is { } c)
            {
                Of(c)[0] += u.Amount;
            }
        }

        foreach (var f in fees)
        {
            Of(f.Currency)[1] += f.Amount;
        }

        foreach (var c in commitments)
        {
            Of(c.Currency)[2] += c.TrueUp;
        }

        foreach (var a in adjustments)
        {
            Of(a.Currency)[3] += a.Amount;
        }

        return [.. sums.Select(kv => new CurrencyTotal(kv.Key, kv.Value[0], kv.Value[1], kv.Value[2], kv.Value[3], kv.Value[0] + kv.Value[1] + kv.Value[2] + kv.Value[3]))];
    }
}
