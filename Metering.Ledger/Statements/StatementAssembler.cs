using Metering.Ledger.PeriodClose;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Metering.Rating.Statements;
using Npgsql;

namespace Metering.Ledger.Statements;

/// <summary>
/// Reads what the statements of one billing period are built from and builds them with the Rating library
/// (docs/statements.md): the period's totals, the late usage and booked adjustments booked into it, the accounts'
/// terms, and the final statements already written. A final statement is read back (its hash checked) instead of being
/// built again. For late usage booked into the period, the adjustment is the whole-statement difference of the closed
/// period it belongs to (<see cref="StatementDifference"/>): that period's final statement rebuilt with the late usage
/// booked before this period, against the same with this period's late usage too, so differences booked into
/// successive periods add up to the closed period rebuilt with all of its late usage. Every read of one call runs in
/// the caller's transaction (repeatable read, or the close's exclusive lock), so the parts agree.
/// </summary>
public static class StatementAssembler
{
    /// <summary>
    /// The statements of <paramref name="period"/> for the accounts in keyset order after <paramref name="afterAccount"/>
    /// (ordinal byte order; null = from the start), at most <paramref name="limit"/>, or only <paramref name="account"/>
    /// when it is given. An account is in the period when it has totals, late usage, booked adjustments or a final
    /// statement in it, or stored terms whose subscription overlaps it. Without <paramref name="account"/>, the accounts
    /// are those without a period rule of their own (<paramref name="period"/> is a period of the list book's
    /// <paramref name="rule"/>), or those of <paramref name="group"/> (<paramref name="period"/> is the group's); with
    /// it, <paramref name="period"/> must be a period of that account.
    /// </summary>
    public static async Task<IReadOnlyList<AccountStatement>> BuildAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, BillingPeriod period, BillingPeriodRule rule, PriceCatalog prices,
        string? account, string? afterAccount, int limit, CancellationToken cancellationToken, PeriodRuleGroup? group = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var reads = new StatementReads(connection, tx, period, cancellationToken);
        var accounts = account is not null ? [account] : await reads.AccountsAsync(afterAccount, limit, group).ConfigureAwait(false);
        if (accounts.Count == 0)
        {
            return [];
        }

        var periods = await AccountPeriodStore.LoadAsync(connection, tx, rule, accounts, cancellationToken).ConfigureAwait(false);
        var finals = await reads.FinalsAsync(accounts).ConfigureAwait(false);
        var totals = await reads.TotalsAsync(accounts).ConfigureAwait(false);
        var late = await reads.LateUsageAsync(accounts).ConfigureAwait(false);
        var booked = await reads.BookedAdjustmentsAsync(accounts).ConfigureAwait(false);
        var terms = await reads.TermsAsync(accounts).ConfigureAwait(false);
        var corrections = await reads.CorrectionsAsync(accounts).ConfigureAwait(false);

        // The closed periods late usage belongs to: their final statements, and the late usage booked before this period.
        var origins = late.Where(l => !finals.ContainsKey(l.Account)).Select(l => (l.Account, l.OriginalPeriodStart))
            .Concat(corrections.Where(c => c.Change is not null && c.OriginalPeriodStart != period.Start && !finals.ContainsKey(c.Account)).Select(c => (c.Account, c.OriginalPeriodStart!.Value)))
            .Distinct().ToList();
        var originFinals = await reads.FinalsOfAsync(origins).ConfigureAwait(false);
        var originTotals = await reads.TotalsOfAsync(origins.Where(o => !originFinals.ContainsKey(o)).ToList()).ConfigureAwait(false);
        var earlier = await StatementReads.UsageChangesAsync(connection, tx, origins, period.Start, cancellationToken).ConfigureAwait(false);

        var statements = new List<AccountStatement>(accounts.Count);
        foreach (var a in accounts)
        {
            if (finals.TryGetValue(a, out var final))
            {
                statements.Add(final);
                continue;
            }

            var accountTotals = totals.GetValueOrDefault(a) ?? [];
            var accountLate = late.Where(l => l.Account == a).ToList();
            var accountBooked = booked.Where(b => b.Account == a).ToList();
            var accountTerms = terms.GetValueOrDefault(a);
            var accountCorrections = corrections.Where(c => c.Account == a).ToList();
            var ownChanges = accountCorrections.Where(c => c.Change is not null && c.OriginalPeriodStart == period.Start).Select(c => c.Change!).ToList();
            var closedChanges = accountCorrections.Where(c => c.Change is not null && c.OriginalPeriodStart != period.Start).ToList();
            if (account is not null && accountTotals.Count == 0 && accountLate.Count == 0 && accountBooked.Count == 0 && accountCorrections.Count == 0 && accountTerms is null)
            {
                continue; // asked for one account that has nothing in the period
            }

            var adjustments = new List<AdjustmentLine>();
            var originStarts = accountLate.Select(l => l.OriginalPeriodStart).Concat(closedChanges.Select(c => c.OriginalPeriodStart!.Value)).Distinct().Order();
            foreach (var originStart in originStarts)
            {
                var key = (a, originStart);
                var originPeriod = periods.PeriodOf(a, originStart);

                // What the closed period billed: its final statement; for a period closed before final statements existed,
                // its totals rated; for an account that had nothing in it at close, nothing at all (an empty statement),
                // so late usage that shows the account was active then also books that period's fees and commitment.
                var empty = new Statement(a, originPeriod, TermsOf(accountTerms, originPeriod), [], [], [], []);
                var baseline = originFinals.TryGetValue(key, out var f)
                    ? f
                    : originTotals.TryGetValue(key, out var legacy)
                        ? StatementBuilder.Build(new StatementInput(a, originPeriod, empty.Terms, [.. legacy.Select(t => t.ToUsage())], [], prices))
                        : empty;

                // Booked so far (before this period), then this period's late usage, then its corrections: each step's
                // difference is booked under its own kind, and the steps telescope to the period rebuilt with everything.
                List<SkuUsage> before = earlier.GetValueOrDefault(key) ?? [];
                List<SkuUsage> withLate = [.. before, .. accountLate.Where(l => l.OriginalPeriodStart == originStart).Select(l => l.ToUsage())];
                List<SkuUsage> withCorrections = [.. withLate, .. closedChanges.Where(c => c.OriginalPeriodStart == originStart).Select(c => c.Change!)];
                var s0 = ReferenceEquals(baseline, empty) && before.Count == 0 ? empty : StatementRevision.Rebuild(baseline, before, prices);
                var s1 = withLate.Count == before.Count ? s0 : StatementRevision.Rebuild(baseline, withLate, prices);
                var s2 = withCorrections.Count == withLate.Count ? s1 : StatementRevision.Rebuild(baseline, withCorrections, prices);
                adjustments.AddRange(StatementDifference.Between(s0, s1, AdjustmentLine.LateUsage));
                adjustments.AddRange(StatementDifference.Between(s1, s2, AdjustmentLine.Correction));
            }

            adjustments.AddRange(accountBooked.Select(b => b.Line));
            adjustments.AddRange(accountCorrections.Where(c => c.Manual is not null).Select(c => c.Manual!));

            // Voids and amends of this period's own usage change its usage lines (the totals stay as the engine wrote them).
            var usage = StatementRevision.Combine([.. accountTotals.Select(t => t.ToUsage())], ownChanges, a, period);
            var statement = StatementBuilder.Build(new StatementInput(a, period, TermsOf(accountTerms, period), usage, adjustments, prices));
            var inputs = new StatementInputs(accountTotals, [.. accountLate.Select(l => l.Id).Order()], [.. accountCorrections.Select(c => c.Id).Order()],
                [.. accountBooked.Select(b => b.Id).Order()], BooksOf(statement));
            statements.Add(new AccountStatement(statement, false, periods.IsClosed(a, period.Start), null, null, inputs));
        }

        return statements;
    }

    /// <summary>
    /// The statement terms of an account: its stored subscription and currency; without stored terms, the policy of
    /// docs/api.md ("Accounts"): subscribed from the period's start, on the list book.
    /// </summary>
    private static StatementTerms TermsOf(StatementTerms? stored, BillingPeriod period) => stored ?? new StatementTerms(period.Start);

    private static List<StatementPriceBookRef> BooksOf(Statement s)
    {
        var books = new SortedSet<(string, string, string)>();
        foreach (var u in s.Usage)
        {
            if (u.Priced)
            {
                books.Add((u.PriceBook!, u.PriceBookVersion!, u.PriceBookHash!));
            }
        }

        foreach (var f in s.Fees)
        {
            books.Add((f.PriceBook, f.PriceBookVersion, f.PriceBookHash));
        }

        foreach (var c in s.Commitments)
        {
            books.Add((c.PriceBook, c.PriceBookVersion, c.PriceBookHash));
        }

        return [.. books.Select(b => new StatementPriceBookRef(b.Item1, b.Item2, b.Item3))];
    }
}
