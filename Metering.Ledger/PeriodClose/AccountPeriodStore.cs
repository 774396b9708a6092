using Metering.Rating.Periods;
using Npgsql;

namespace Metering.Ledger.PeriodClose;

/// <summary>
/// Reads which billing periods accounts book into and which are closed (<see cref="AccountPeriods"/>): the list book's
/// closes (<c>closed_periods</c>) for every account, and for the accounts with a rule of their own, that rule and the
/// closes of its periods (<c>closed_rule_periods</c>). In the caller's transaction: a flush reads them under the shared
/// close lock, so no close and no rule change commits between this read and its writes.
/// </summary>
public static class AccountPeriodStore
{
    /// <summary>The periods of <paramref name="accounts"/> under <paramref name="listRule"/> and their own rules.</summary>
    public static async Task<AccountPeriods> LoadAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, BillingPeriodRule listRule, IReadOnlyCollection<string> accounts,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(listRule);
        ArgumentNullException.ThrowIfNull(accounts);
        var listClosed = await PeriodCloser.ClosedAsync(connection, tx, cancellationToken).ConfigureAwait(false);
        if (accounts.Count == 0)
        {
            return new AccountPeriods(listRule, listClosed);
        }

        var own = new Dictionary<string, AccountPeriodRule>(StringComparer.Ordinal);
        var groups = new Dictionary<PeriodRuleGroup, AccountPeriodRule>();
        await using var cmd = new NpgsqlCommand("""
            SELECT a.account, a.anchor_day, a.time_zone,
                   coalesce(array_agg(c.period_start) FILTER (WHERE c.period_start IS NOT NULL), '{}')
            FROM accounts a
            LEFT JOIN closed_rule_periods c ON c.anchor_day = coalesce(a.anchor_day, 0) AND c.time_zone = coalesce(a.time_zone, '')
            WHERE a.account = ANY($1) AND (a.anchor_day IS NOT NULL OR a.time_zone IS NOT NULL)
            GROUP BY a.account, a.anchor_day, a.time_zone
            """, connection, tx);
        cmd.Parameters.Add(new NpgsqlParameter { Value = accounts as string[] ?? [.. accounts] });
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var group = new PeriodRuleGroup(r.IsDBNull(1) ? null : r.GetInt16(1), r.IsDBNull(2) ? null : r.GetString(2));
            if (!groups.TryGetValue(group, out var rule))
            {
                var closed = r.GetFieldValue<DateTime[]>(3).Select(d => new DateTimeOffset(d, TimeSpan.Zero)).ToHashSet();
                groups[group] = rule = new AccountPeriodRule(group.RuleOf(listRule), closed);
            }

            own[r.GetString(0)] = rule;
        }

        return new AccountPeriods(listRule, listClosed, own);
    }

    /// <summary>The periods of one account.</summary>
    public static async Task<AccountPeriods> LoadAsync(NpgsqlDataSource db, BillingPeriodRule listRule, string account, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await LoadAsync(connection, null, listRule, [account], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every rule group some account is in.</summary>
    public static async Task<List<PeriodRuleGroup>> GroupsAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var groups = new List<PeriodRuleGroup>();
        await using var cmd = new NpgsqlCommand("""
            SELECT DISTINCT anchor_day, time_zone FROM accounts WHERE anchor_day IS NOT NULL OR time_zone IS NOT NULL ORDER BY 1, 2
            """, connection, tx);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            groups.Add(new PeriodRuleGroup(r.IsDBNull(0) ? null : r.GetInt16(0), r.IsDBNull(1) ? null : r.GetString(1)));
        }

        return groups;
    }

    /// <summary>
    /// The SQL condition "account <paramref name="column"/> is in <paramref name="group"/>" (null: has no rule of its
    /// own), with the group's anchor day and zone as parameters <paramref name="anchorParameter"/> and the one after it.
    /// <paramref name="column"/> must be qualified by its table's alias: the subquery's own table has a column
    /// <c>account</c> too, and an unqualified name would compare that column with itself.
    /// </summary>
    internal static string InGroupSql(string column, PeriodRuleGroup? group, int anchorParameter) => group is null
        ? $"NOT EXISTS (SELECT 1 FROM accounts g WHERE g.account = {column} COLLATE \"C\" AND (g.anchor_day IS NOT NULL OR g.time_zone IS NOT NULL))"
        : $"EXISTS (SELECT 1 FROM accounts g WHERE g.account = {column} COLLATE \"C\" AND coalesce(g.anchor_day, 0) = ${anchorParameter} AND coalesce(g.time_zone, '') = ${anchorParameter + 1})";
}
