using System.Collections.Concurrent;
using System.Diagnostics;
using Metering.Ingest.Streaming;
using Npgsql;

namespace Metering.Ingest.Alerts;

/// <summary>
/// Detects quota crossings inside the flush transaction, so detection is exactly once: the alert row commits iff the
/// totals that crossed commit, and a fenced (replayed) batch never detects anything. A crossing is an upward pass of
/// the threshold by one flush: before &lt; threshold &lt;= after, with
/// <list type="bullet">
/// <item>quantity quotas: the cumulative quantity of the (account, SKU) billing-period total;</item>
/// <item>amount quotas: the account's charged amount in the quota's currency, summed over all its SKUs' totals of the
/// period (the changed totals before/after plus the untouched ones).</item>
/// </list>
/// At most one alert per quota and period (<c>alert_key</c> is unique; <c>ON CONFLICT DO NOTHING</c> is the belt).
/// </summary>
/// <remarks>
/// The hot path stays cheap: the accounts that have quotas are cached per database for <see cref="CacheTtl"/>, a
/// flush touching none of them costs no query, and only the changes of those accounts are sent. A quota created
/// while the engine runs is therefore seen within <see cref="CacheTtl"/>. Amount quotas sum totals that concurrent
/// flushes of other engine instances may be moving: their evaluation takes a transaction-scoped advisory lock per
/// account first, so two flushes of one account are evaluated one after the other and no crossing falls between
/// them. Thread-safe.
/// </remarks>
public static class QuotaEvaluator
{
    /// <summary>How long the set of accounts with quotas is reused before it is read again.</summary>
    public static readonly TimeSpan CacheTtl = TimeSpan.FromSeconds(2);

    /// <summary>Above this many accounts with quotas, changes are not filtered in memory (the SQL join filters them).</summary>
    private const int MaxCachedAccounts = 100_000;

    /// <summary>Advisory lock class of the per-account amount-quota lock (two-key space: never meets the one-key locks).</summary>
    private const int AccountLockClass = 0x51554F54; // "QUOT"

    private static readonly ConcurrentDictionary<string, QuotaAccounts> Cache = new(StringComparer.Ordinal);

    /// <summary>Accounts that have quotas, read at <see cref="ReadAt"/> (Stopwatch ticks); <see cref="All"/> = too many to list.</summary>
    private sealed record QuotaAccounts(HashSet<string> Accounts, bool All, long ReadAt);

    /// <summary>
    /// Records an alert (in <paramref name="tx"/>) for every quota that <paramref name="changes"/> carried across its
    /// threshold. Must run after the totals were written in the same transaction; returns the alerts inserted.
    /// </summary>
    public static async Task<int> EvaluateAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<TotalChange> changes, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(changes);
        if (changes.Count == 0)
        {
            return 0;
        }

        var quotaAccounts = await QuotaAccountsAsync(connection, tx, ct).ConfigureAwait(false);
        if (!quotaAccounts.All && quotaAccounts.Accounts.Count == 0)
        {
            return 0;
        }

        var relevant = new List<TotalChange>();
        foreach (var c in changes)
        {
            if (quotaAccounts.All || quotaAccounts.Accounts.Contains(c.Account))
            {
                relevant.Add(c);
            }
        }

        if (relevant.Count == 0)
        {
            return 0;
        }

        // Amount quotas sum totals that other flushes (other engine instances) may be changing right now. Serialize the
        // evaluation per account: lock in sorted order (no deadlock between evaluators), in a statement of its own, so
        // the evaluation statement's snapshot sees every total a flush that held the lock before us committed.
        var lockAccounts = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var c in relevant)
        {
            if (c.AmountAfter != c.AmountBefore)
            {
                lockAccounts.Add(c.Account);
            }
        }

        if (lockAccounts.Count > 0)
        {
            await using var lockCmd = new NpgsqlCommand("SELECT count(pg_advisory_xact_lock($1, hashtext(a))) FROM unnest($2::text[]) AS a", connection, tx);
            lockCmd.Parameters.Add(new() { Value = AccountLockClass });
            lockCmd.Parameters.Add(new() { Value = lockAccounts.ToArray() });
            await lockCmd.ExecuteScalarAsync(ct).ConfigureAwait(false);
        }

        // One statement: quantity quotas per changed (account, sku); amount quotas per changed (account, currency,
        // period), the "after" sum read from the totals this transaction already wrote, the "before" sum = after minus
        // this flush's deltas (so untouched totals count in both).
        await using var cmd = new NpgsqlCommand("""
            WITH c AS (
              SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::numeric[], $7::numeric[], $8::numeric[], $9::numeric[])
                AS c(account, sku, period_start, period_end, currency, qb, qa, ab, aa)
            ),
            quantity_crossings AS (
              SELECT q.id, q.account, q.sku, q.metric, q.threshold, c.qb AS before, c.qa AS after, NULL::char(3) AS currency, c.period_start, c.period_end
              FROM c JOIN quotas q ON q.metric = 'quantity' AND q.account = c.account AND q.sku = c.sku
              WHERE c.qb < q.threshold AND q.threshold <= c.qa
            ),
            moved AS (
              SELECT c.account, c.currency, c.period_start, min(c.period_end) AS period_end, sum(c.aa - c.ab) AS delta
              FROM c
              WHERE c.aa <> c.ab AND EXISTS (SELECT 1 FROM quotas q WHERE q.metric = 'amount' AND q.account = c.account AND q.currency = c.currency)
              GROUP BY c.account, c.currency, c.period_start
            ),
            sums AS (
              SELECT m.*, (SELECT coalesce(sum(t.amount), 0) FROM billing_period_totals t
                           WHERE t.account = m.account AND t.period_start = m.period_start AND t.currency = m.currency) AS after
              FROM moved m
            ),
            amount_crossings AS (
              SELECT q.id, q.account, NULL::text AS sku, q.metric, q.threshold, s.after - s.delta AS before, s.after, q.currency, s.period_start, s.period_end
              FROM sums s JOIN quotas q ON q.metric = 'amount' AND q.account = s.account AND q.currency = s.currency
              WHERE s.after - s.delta < q.threshold AND q.threshold <= s.after
            )
            INSERT INTO alerts (alert_key, quota_id, account, sku, metric, threshold, value_before, value_at_crossing, currency, period_start, period_end)
            SELECT x.id::text || ':' || to_char(x.period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   x.id, x.account, x.sku, x.metric, x.threshold, x.before, x.after, x.currency, x.period_start, x.period_end
            FROM (SELECT * FROM quantity_crossings UNION ALL SELECT * FROM amount_crossings) x
            ON CONFLICT (alert_key) DO NOTHING
            """, connection, tx);
        var n = relevant.Count;
        var account = new string[n];
        var sku = new string[n];
        var periodStart = new DateTime[n];
        var periodEnd = new DateTime[n];
        var currency = new string[n];
        var quantityBefore = new decimal[n];
        var quantityAfter = new decimal[n];
        var amountBefore = new decimal[n];
        var amountAfter = new decimal[n];
        for (var i = 0; i < n; i++)
        {
            var c = relevant[i];
            account[i] = c.Account;
            sku[i] = c.Sku;
            periodStart[i] = c.PeriodStart.UtcDateTime;
            periodEnd[i] = c.PeriodEnd.UtcDateTime;
            currency[i] = c.Currency;
            quantityBefore[i] = c.QuantityBefore;
            quantityAfter[i] = c.QuantityAfter;
            amountBefore[i] = c.AmountBefore;
            amountAfter[i] = c.AmountAfter;
        }

        cmd.Parameters.Add(new() { Value = account });
        cmd.Parameters.Add(new() { Value = sku });
        cmd.Parameters.Add(new() { Value = periodStart });
        cmd.Parameters.Add(new() { Value = periodEnd });
        cmd.Parameters.Add(new() { Value = currency });
        cmd.Parameters.Add(new() { Value = quantityBefore });
        cmd.Parameters.Add(new() { Value = quantityAfter });
        cmd.Parameters.Add(new() { Value = amountBefore });
        cmd.Parameters.Add(new() { Value = amountAfter });
        return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Forgets the cached accounts with quotas of every database (after a quota change made in this process).</summary>
    public static void Invalidate() => Cache.Clear();

    private static async Task<QuotaAccounts> QuotaAccountsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken ct)
    {
        var key = connection.ConnectionString;
        var now = Stopwatch.GetTimestamp();
        if (Cache.TryGetValue(key, out var cached) && Stopwatch.GetElapsedTime(cached.ReadAt, now) < CacheTtl)
        {
            return cached;
        }

        var accounts = new HashSet<string>(StringComparer.Ordinal);
        var all = false;
        await using (var cmd = new NpgsqlCommand("SELECT DISTINCT account FROM quotas LIMIT $1", connection, tx))
        {
            cmd.Parameters.Add(new() { Value = MaxCachedAccounts + 1 });
            await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                accounts.Add(reader.GetString(0));
            }
        }

        if (accounts.Count > MaxCachedAccounts)
        {
            accounts.Clear();
            all = true;
        }

        var fresh = new QuotaAccounts(accounts, all, now);
        Cache[key] = fresh;
        return fresh;
    }
}
