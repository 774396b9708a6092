using System.Data;
using Metering.Ledger.PeriodClose;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Npgsql;

namespace Metering.Ledger.Statements;

/// <summary>
/// The statements the API and the CLI serve: final when period close wrote them, else drafts built now
/// (<see cref="StatementAssembler"/>), each call in one repeatable-read transaction so the parts of a statement agree
/// even while a flush or a close commits.
/// </summary>
public static class StatementQuery
{
    /// <summary>The statement of <paramref name="account"/> for <paramref name="period"/>; null when the account has nothing in it.</summary>
    public static async Task<AccountStatement?> GetAsync(NpgsqlDataSource db, BillingPeriod period, BillingPeriodRule rule, PriceCatalog prices, string account, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentException.ThrowIfNullOrEmpty(account);
        var page = await ReadAsync(db, period, rule, prices, account, null, 1, cancellationToken).ConfigureAwait(false);
        return page.Count == 0 ? null : page[0];
    }

    /// <summary>
    /// The statements of <paramref name="period"/> (a period of the list book's <paramref name="rule"/>) after
    /// <paramref name="afterAccount"/> in account order, at most <paramref name="limit"/>: of the accounts without a
    /// period rule of their own, <paramref name="period"/> itself; of the others, their period that a close of
    /// <paramref name="period"/> closes (<see cref="BillingPeriodRule.PeriodLabelledBy"/>).
    /// </summary>
    public static async Task<IReadOnlyList<AccountStatement>> ListAsync(NpgsqlDataSource db, BillingPeriod period, BillingPeriodRule rule, PriceCatalog prices, string? afterAccount, int limit,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(rule);
        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        var statements = new List<AccountStatement>(await StatementAssembler.BuildAsync(connection, tx, period, rule, prices, null, afterAccount, limit, cancellationToken).ConfigureAwait(false));

        // Each rule group's page after the same cursor; the merge in account order keeps the first `limit`, so the
        // cursor (the last account served) stays one account id across groups.
        foreach (var group in await AccountPeriodStore.GroupsAsync(connection, tx, cancellationToken).ConfigureAwait(false))
        {
            if (group.RuleOf(rule).PeriodLabelledBy(period) is { } own)
            {
                statements.AddRange(await StatementAssembler.BuildAsync(connection, tx, own, rule, prices, null, afterAccount, limit, cancellationToken, group).ConfigureAwait(false));
            }
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return [.. statements.OrderBy(s => s.Statement.Account, StringComparer.Ordinal).Take(limit)];
    }

    private static async Task<IReadOnlyList<AccountStatement>> ReadAsync(NpgsqlDataSource db, BillingPeriod period, BillingPeriodRule rule, PriceCatalog prices, string? account, string? after, int limit,
        CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        var statements = await StatementAssembler.BuildAsync(connection, tx, period, rule, prices, account, after, limit, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return statements;
    }
}
