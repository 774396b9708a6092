using System.Collections.Concurrent;
using System.Diagnostics;
using Metering.Ledger.Totals;
using Metering.Rating.Money;
using Npgsql;

namespace Metering.Ledger.Quotas;

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
/// <para>
/// The hot path stays cheap: the quotas are cached per database for <see cref="CacheTtl"/> (up to
/// <see cref="MaxCachedQuotas"/>; beyond that every change is a candidate and the SQL join filters). Only candidates
/// are sent: a quantity change that passes one of its (account, SKU)'s cached thresholds, and, per (account, currency,
/// period) with an amount quota, the sum of the amount deltas. A flush with no candidate costs no query. A quota
/// created while the engine runs is therefore seen within <see cref="CacheTtl"/>.
/// </para>
/// <para>
/// Amount quotas sum totals that concurrent flushes of other engine instances may be moving: their evaluation first
/// takes transaction-scoped advisory locks on the accounts' stripes (<see cref="LockStripes"/> of them, so a flush holds
/// a bounded number of locks), in ascending order, in a statement of its own, so two flushes of one account are
/// evaluated one after the other and the later one's statement sees the earlier one's committed totals.
/// </para>
/// Thread-safe.
/// </remarks>
public static class QuotaEvaluator
{
    /// <summary>How long the cached quotas are reused before they are read again.</summary>
    public static readonly TimeSpan CacheTtl = TimeSpan.FromSeconds(2);

    /// <summary>Most quotas held in the cache; with more, every change is sent and the SQL join filters.</summary>
    public const int MaxCachedQuotas = 200_000;

    /// <summary>Advisory-lock stripes for amount-quota accounts: a flush takes at most this many locks.</summary>
    public const int LockStripes = 64;

    /// <summary>Advisory lock class of the amount-quota stripes (two-key space: never meets the one-key locks).</summary>
    private const int AccountLockClass = 0x51554F54; // "QUOT"

    /// <summary>
    /// The evaluation statement. $1..$6: quantity candidates (account, sku, period start, period end, quantity before,
    /// after); $7..$11: amount candidates per (account, currency, period start): period end and the flush's amount delta;
    /// $12: <see cref="LedgerDecimal.Limit"/> (a quota whose threshold is outside the range is never evaluated).
    /// The "after" sum is read from the totals this transaction already wrote; "before" = after - delta, so the totals
    /// the flush did not touch count in both.
    /// </summary>
    internal const string EvaluateSql = """
        WITH quantity_crossings AS (
          SELECT q.id, q.account, q.sku, q.metric, q.threshold, c.qb AS before, c.qa AS after, NULL::char(3) AS currency, c.period_start, c.period_end
          FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::numeric[], $6::numeric[]) AS c(account, sku, period_start, period_end, qb, qa)
          JOIN quotas q ON q.account = c.account AND coalesce(q.sku, '') = c.sku AND q.metric = 'quantity' AND abs(q.threshold) < $12
          WHERE c.qb < q.threshold AND q.threshold <= c.qa
        ),
        sums AS (
          SELECT m.*, (SELECT coalesce(sum(t.amount), 0) FROM billing_period_totals t
                       WHERE t.account = m.account AND t.period_start = m.period_start AND t.currency = m.currency::char(3)) AS after
          FROM unnest($7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::numeric[]) AS m(account, currency, period_start, period_end, delta)
        ),
        amount_crossings AS (
          SELECT q.id, q.account, NULL::text AS sku, q.metric, q.threshold, s.after - s.delta AS before, s.after, q.currency, s.period_start, s.period_end
          FROM sums s
          JOIN quotas q ON q.account = s.account AND coalesce(q.sku, '') = '' AND q.metric = 'amount' AND coalesce(q.currency, '') = s.currency::char(3)
            AND abs(q.threshold) < $12
          WHERE s.after - s.delta < q.threshold AND q.threshold <= s.after
        )
        INSERT INTO alerts (alert_key, quota_id, account, sku, metric, threshold, value_before, value_at_crossing, currency, period_start, period_end)
        SELECT x.id::text || ':' || to_char(x.period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               x.id, x.account, x.sku, x.metric, x.threshold, x.before, x.after, x.currency, x.period_start, x.period_end
        FROM (SELECT * FROM quantity_crossings UNION ALL SELECT * FROM amount_crossings) x
        ON CONFLICT (alert_key) DO NOTHING
        """;

    /// <summary>The cache limit in force (<see cref="MaxCachedQuotas"/>; tests lower it to exercise the uncached path).</summary>
    internal static int CacheLimit { get; set; } = MaxCachedQuotas;

    // Written by every quota read; the metrics gauge reads it, so this store needs no reference to the metrics.
    private static long _invalidQuotas;

    /// <summary>Quotas skipped by the last quota read for a threshold outside the ledger's range.</summary>
    public static long InvalidQuotas => Volatile.Read(ref _invalidQuotas);

    private static readonly ConcurrentDictionary<string, QuotaSnapshot> Cache = new(StringComparer.Ordinal);

    /// <summary>Quota ids already reported as invalid (one log line per quota and process, not one per refresh).</summary>
    private static readonly ConcurrentDictionary<long, byte> ReportedInvalid = new();

    /// <summary>The quotas of one database as read at <see cref="ReadAt"/> (Stopwatch ticks). Immutable once published.</summary>
    private sealed class QuotaSnapshot
    {
        public required long ReadAt { get; init; }

        /// <summary>Too many quotas to hold: every change is a candidate.</summary>
        public bool All { get; init; }

        /// <summary>Quantity thresholds per (account, sku).</summary>
        public Dictionary<(string Account, string Sku), List<decimal>> Quantity { get; } = [];

        /// <summary>(account, currency) pairs with an amount quota.</summary>
        public HashSet<(string Account, string Currency)> Amount { get; } = [];
    }

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

        var quotas = await SnapshotAsync(connection, tx, ct).ConfigureAwait(false);
        if (!quotas.All && quotas.Quantity.Count == 0 && quotas.Amount.Count == 0)
        {
            return 0;
        }

        var quantity = new List<TotalChange>();
        var amount = new Dictionary<(string Account, string Currency, DateTimeOffset PeriodStart), (DateTimeOffset PeriodEnd, decimal Delta)>();
        foreach (var c in changes)
        {
            if (quotas.All || (quotas.Quantity.TryGetValue((c.Account, c.Sku), out var thresholds) && Passes(thresholds, c.QuantityBefore, c.QuantityAfter)))
            {
                quantity.Add(c);
            }

            if (c.AmountAfter != c.AmountBefore && (quotas.All || quotas.Amount.Contains((c.Account, c.Currency))))
            {
                var key = (c.Account, c.Currency, c.PeriodStart);
                amount[key] = amount.TryGetValue(key, out var sum) ? (sum.PeriodEnd, sum.Delta + c.AmountAfter - c.AmountBefore) : (c.PeriodEnd, c.AmountAfter - c.AmountBefore);
            }
        }

        if (quantity.Count == 0 && amount.Count == 0)
        {
            return 0;
        }

        if (amount.Count > 0)
        {
            // Serialize amount evaluations per account (stripe) across concurrent flushes: ascending order, no deadlock
            // between evaluators; a statement of its own, so the evaluation below takes its snapshot after the lock.
            var stripes = new SortedSet<int>();
            foreach (var key in amount.Keys)
            {
                stripes.Add(Stripe(key.Account));
            }

            await using var lockCmd = new NpgsqlCommand("SELECT count(pg_advisory_xact_lock($1, s)) FROM unnest($2::int[]) AS s", connection, tx);
            lockCmd.Parameters.Add(new() { Value = AccountLockClass });
            lockCmd.Parameters.Add(new() { Value = stripes.ToArray() });
            await lockCmd.ExecuteScalarAsync(ct).ConfigureAwait(false);
        }

        await using var cmd = new NpgsqlCommand(EvaluateSql, connection, tx);
        cmd.Parameters.Add(new() { Value = quantity.Select(c => c.Account).ToArray() });
        cmd.Parameters.Add(new() { Value = quantity.Select(c => c.Sku).ToArray() });
        cmd.Parameters.Add(new() { Value = quantity.Select(c => c.PeriodStart.UtcDateTime).ToArray() });
        cmd.Parameters.Add(new() { Value = quantity.Select(c => c.PeriodEnd.UtcDateTime).ToArray() });
        cmd.Parameters.Add(new() { Value = quantity.Select(c => c.QuantityBefore).ToArray() });
        cmd.Parameters.Add(new() { Value = quantity.Select(c => c.QuantityAfter).ToArray() });
        cmd.Parameters.Add(new() { Value = amount.Keys.Select(k => k.Account).ToArray() });
        cmd.Parameters.Add(new() { Value = amount.Keys.Select(k => k.Currency).ToArray() });
        cmd.Parameters.Add(new() { Value = amount.Keys.Select(k => k.PeriodStart.UtcDateTime).ToArray() });
        cmd.Parameters.Add(new() { Value = amount.Values.Select(v => v.PeriodEnd.UtcDateTime).ToArray() });
        cmd.Parameters.Add(new() { Value = amount.Values.Select(v => v.Delta).ToArray() });
        cmd.Parameters.Add(new() { Value = LedgerDecimal.Limit });
        return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Forgets the cached quotas of every database (after a quota change made in this process).</summary>
    public static void Invalidate() => Cache.Clear();

    private static bool Passes(List<decimal> thresholds, decimal before, decimal after)
    {
        foreach (var t in thresholds)
        {
            if (before < t && t <= after)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The account's lock stripe: FNV-1a over its UTF-16 code units, the same in every process (unlike string.GetHashCode).</summary>
    private static int Stripe(string account)
    {
        var hash = 2166136261u;
        foreach (var ch in account)
        {
            hash = (hash ^ ch) * 16777619u;
        }

        return (int)(hash % LockStripes);
    }

    private static async Task<QuotaSnapshot> SnapshotAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken ct)
    {
        var key = connection.ConnectionString;
        var now = Stopwatch.GetTimestamp();
        if (Cache.TryGetValue(key, out var cached) && Stopwatch.GetElapsedTime(cached.ReadAt, now) < CacheTtl)
        {
            return cached;
        }

        // This runs inside the flush transaction: a threshold outside the range (written around the API, which refuses
        // it) is never read as a decimal, which could throw and fail every flush; it is reported and skipped instead.
        var rows = new List<(string Account, string? Sku, bool IsAmount, decimal Threshold, string? Currency)>();
        var invalid = 0;
        await using (var cmd = new NpgsqlCommand("""
            SELECT account, sku, metric = 'amount', CASE WHEN abs(threshold) < $2 THEN threshold END, currency,
                   id, CASE WHEN abs(threshold) < $2 THEN NULL ELSE threshold::text END
            FROM quotas LIMIT $1
            """, connection, tx))
        {
            cmd.Parameters.Add(new() { Value = CacheLimit + 1 });
            cmd.Parameters.Add(new() { Value = LedgerDecimal.Limit });
            await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                if (reader.IsDBNull(3))
                {
                    invalid++;
                    if (ReportedInvalid.TryAdd(reader.GetInt64(5), 0))
                    {
                        Console.Error.WriteLine($"QUOTA SKIPPED: quota {reader.GetInt64(5)} of account '{reader.GetString(0)}' has threshold {reader.GetString(6)}, outside the range ({LedgerDecimal.RangeText}); it is never evaluated: remove it and set it again within the range");
                    }

                    continue;
                }

                rows.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetBoolean(2), reader.GetDecimal(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
            }
        }

        Volatile.Write(ref _invalidQuotas, invalid);

        QuotaSnapshot fresh;
        if (rows.Count > CacheLimit)
        {
            fresh = new QuotaSnapshot { ReadAt = now, All = true };
        }
        else
        {
            fresh = new QuotaSnapshot { ReadAt = now };
            foreach (var (account, sku, isAmount, threshold, currency) in rows)
            {
                if (isAmount)
                {
                    fresh.Amount.Add((account, currency!));
                }
                else if (fresh.Quantity.TryGetValue((account, sku!), out var list))
                {
                    list.Add(threshold);
                }
                else
                {
                    fresh.Quantity[(account, sku!)] = [threshold];
                }
            }
        }

        Cache[key] = fresh;
        return fresh;
    }
}
