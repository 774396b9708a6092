using Metering.Ledger.PeriodClose;
using Metering.Rating.Periods;
using Metering.Rating.Statements;
using Npgsql;

namespace Metering.Ledger.Statements;

/// <summary>The SQL reads behind <see cref="StatementAssembler"/>, all in the caller's transaction, for one period.</summary>
internal sealed class StatementReads(NpgsqlConnection connection, NpgsqlTransaction tx, BillingPeriod period, CancellationToken cancellationToken)
{
    public sealed record LateRow(long Id, string Account, string Sku, DateTimeOffset OriginalPeriodStart, decimal Quantity, long RecordCount, string Group, DateTimeOffset? PriceFrom, decimal Amount = 0)
    {
        // The amount the flush booked for it: a price rated per transaction takes it as is (StatementBuilder).
        public SkuUsage ToUsage() => new(Sku, Quantity, RecordCount, Group: Group, PriceFrom: PriceFrom) { RatedAmount = Amount };
    }

    public sealed record BookedRow(long Id, string Account, AdjustmentLine Line);

    /// <summary>A correction booked into the period: a usage change (void, amend) of <see cref="OriginalPeriodStart"/>, or a manual line (credit, debit).</summary>
    public sealed record CorrectionRow(long Id, string Account, string? Sku, DateTimeOffset? OriginalPeriodStart, SkuUsage? Change, AdjustmentLine? Manual);

    private DateTimeOffset Start => period.Start.ToUniversalTime();

    /// <summary>The accounts of the period (of <paramref name="group"/>, or without a rule of their own) after <paramref name="after"/>, at most <paramref name="limit"/>.</summary>
    public async Task<List<string>> AccountsAsync(string? after, int limit, PeriodRuleGroup? group)
    {
        var accounts = new List<string>();
        await using var cmd = Command($"""
            SELECT account FROM (
                SELECT account COLLATE "C" AS account FROM billing_period_totals WHERE period_start = $1
                UNION SELECT account COLLATE "C" FROM adjustments WHERE period_start = $1
                UNION SELECT account FROM booked_adjustments WHERE booked_period_start = $1
                UNION SELECT account FROM corrections WHERE booked_period_start = $1
                UNION SELECT account FROM statements WHERE period_start = $1
                UNION SELECT account FROM accounts WHERE subscription_start < $2 AND (subscription_end IS NULL OR subscription_end > $1)
            ) a
            WHERE ($3::text IS NULL OR account > $3::text COLLATE "C") AND {AccountPeriodStore.InGroupSql("a.account", group, 5)}
            ORDER BY account LIMIT $4
            """, [Start, period.End.ToUniversalTime(), (object?)after ?? DBNull.Value, limit, .. group is null ? Array.Empty<object>() : [group.AnchorKey, group.ZoneKey]]);
        cmd.Parameters[2].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text;
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            accounts.Add(r.GetString(0));
        }

        return accounts;
    }

    public async Task<Dictionary<string, AccountStatement>> FinalsAsync(List<string> accounts)
    {
        var finals = new Dictionary<string, AccountStatement>(StringComparer.Ordinal);
        await using var cmd = Command("SELECT id, account, canonical, content_hash, finalized_at, inputs::text FROM statements WHERE period_start = $1 AND account = ANY($2)",
            Start, accounts.ToArray());
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var statement = Read(r.GetInt64(0), r.GetString(2), r.GetString(3));
            finals[r.GetString(1)] = new AccountStatement(statement, true, true, r.GetInt64(0), r.GetFieldValue<DateTimeOffset>(4), StatementInputs.FromJson(r.GetString(5)));
        }

        return finals;
    }

    public async Task<Dictionary<string, List<StatementTotalRow>>> TotalsAsync(List<string> accounts)
    {
        var totals = new Dictionary<string, List<StatementTotalRow>>(StringComparer.Ordinal);
        await using var cmd = Command("""
            SELECT t.account, t.sku, coalesce(m.quantity, t.quantity), t.record_count, t.amount, trim(t.currency), t.price_book_hash, t.dimension_group, NULLIF(t.price_from, t.period_start), m.unpriced, m.detail
            FROM billing_period_totals t
            LEFT JOIN meter_states m ON m.account = t.account AND m.sku = t.sku AND m.period_start = t.period_start AND m.dimension_group = t.dimension_group AND m.price_from = t.price_from
            WHERE t.period_start = $1 AND t.account = ANY($2) ORDER BY t.account, t.sku, t.dimension_group COLLATE "C", t.price_from
            """, Start, accounts.ToArray());
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var account = r.GetString(0);
            if (!totals.TryGetValue(account, out var rows))
            {
                totals[account] = rows = [];
            }

            rows.Add(new StatementTotalRow(r.GetString(1), r.GetDecimal(2), r.GetInt64(3), r.GetDecimal(4), r.GetString(5), r.GetString(6), r.GetString(7), Instant(r, 8),
                r.IsDBNull(9) ? null : r.GetString(9), r.IsDBNull(10) ? null : r.GetString(10)));
        }

        return totals;
    }

    public async Task<List<LateRow>> LateUsageAsync(List<string> accounts)
    {
        var late = new List<LateRow>();
        await using var cmd = Command("""
            SELECT id, account, sku, original_period_start, coalesce(meter_quantity, quantity), record_count, dimension_group, price_from, amount
            FROM adjustments WHERE period_start = $1 AND account = ANY($2) ORDER BY id
            """, Start, accounts.ToArray());
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            late.Add(new LateRow(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3), r.GetDecimal(4), r.GetInt64(5), r.GetString(6), Instant(r, 7), r.GetDecimal(8)));
        }

        return late;
    }

    public async Task<List<BookedRow>> BookedAdjustmentsAsync(List<string> accounts)
    {
        var booked = new List<BookedRow>();
        await using var cmd = Command("""
            SELECT id, account, kind, reference, sku, quantity, amount, trim(currency), reason, dimension_group
            FROM booked_adjustments WHERE booked_period_start = $1 AND account = ANY($2) ORDER BY id
            """, Start, accounts.ToArray());
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            booked.Add(new BookedRow(r.GetInt64(0), r.GetString(1), new AdjustmentLine(r.GetString(2), r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4),
                r.IsDBNull(5) ? null : r.GetDecimal(5), r.GetDecimal(6), r.GetString(7), r.GetString(8)) { Group = r.GetString(9) }));
        }

        return booked;
    }

    public async Task<List<CorrectionRow>> CorrectionsAsync(List<string> accounts)
    {
        var rows = new List<CorrectionRow>();
        await using var cmd = Command("""
            SELECT id, account, kind, sku, original_period_start, quantity_delta, amount, trim(currency), reason, idempotency_key, dimension_group, price_from
            FROM corrections WHERE booked_period_start = $1 AND account = ANY($2) ORDER BY id
            """, Start, accounts.ToArray());
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var id = r.GetInt64(0);
            var kind = r.GetString(2);
            if (kind is "void" or "amend")
            {
                // A void takes the record away with its quantity; an amend changes the quantity of a record that stays.
                var change = new SkuUsage(r.GetString(3), r.GetDecimal(5), kind == "void" ? -1 : 0, Group: r.GetString(10), PriceFrom: Instant(r, 11));
                rows.Add(new CorrectionRow(id, r.GetString(1), change.Sku, r.GetFieldValue<DateTimeOffset>(4), change, null));
            }
            else
            {
                rows.Add(new CorrectionRow(id, r.GetString(1), null, null, null,
                    new AdjustmentLine(AdjustmentLine.Manual, "correction:" + r.GetString(9), null, null, r.GetDecimal(6), r.GetString(7), $"{kind}: {r.GetString(8)}")));
            }
        }

        return rows;
    }

    public async Task<Dictionary<string, StatementTerms>> TermsAsync(List<string> accounts)
    {
        var terms = new Dictionary<string, StatementTerms>(StringComparer.Ordinal);
        await using var cmd = Command("SELECT account, subscription_start, subscription_end, currency FROM accounts WHERE account = ANY($1)", (object)accounts.ToArray());
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            terms[r.GetString(0)] = new StatementTerms(r.GetFieldValue<DateTimeOffset>(1), r.IsDBNull(2) ? null : r.GetFieldValue<DateTimeOffset>(2), r.GetString(3));
        }

        return terms;
    }

    /// <summary>The final statements of (account, closed period) pairs.</summary>
    public async Task<Dictionary<(string, DateTimeOffset), Statement>> FinalsOfAsync(List<(string Account, DateTimeOffset Start)> keys)
    {
        var finals = new Dictionary<(string, DateTimeOffset), Statement>();
        if (keys.Count == 0)
        {
            return finals;
        }

        await using var cmd = Command("""
            SELECT s.id, s.account, s.period_start, s.canonical, s.content_hash
            FROM statements s JOIN unnest($1::text[], $2::timestamptz[]) AS k(account, period_start)
              ON s.account = k.account AND s.period_start = k.period_start
            """, keys.Select(k => k.Account).ToArray(), keys.Select(k => k.Start.ToUniversalTime()).ToArray());
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            finals[(r.GetString(1), r.GetFieldValue<DateTimeOffset>(2))] = Read(r.GetInt64(0), r.GetString(3), r.GetString(4));
        }

        return finals;
    }

    /// <summary>The totals of (account, period) pairs that have no final statement (closed before statements were written).</summary>
    public async Task<Dictionary<(string, DateTimeOffset), List<StatementTotalRow>>> TotalsOfAsync(List<(string Account, DateTimeOffset Start)> keys)
    {
        var totals = new Dictionary<(string, DateTimeOffset), List<StatementTotalRow>>();
        if (keys.Count == 0)
        {
            return totals;
        }

        await using var cmd = Command("""
            SELECT t.account, t.period_start, t.sku, coalesce(m.quantity, t.quantity), t.record_count, t.amount, trim(t.currency), t.price_book_hash, t.dimension_group, NULLIF(t.price_from, t.period_start), m.unpriced, m.detail
            FROM billing_period_totals t JOIN unnest($1::text[], $2::timestamptz[]) AS k(account, period_start)
              ON t.account = k.account AND t.period_start = k.period_start
            LEFT JOIN meter_states m ON m.account = t.account AND m.sku = t.sku AND m.period_start = t.period_start AND m.dimension_group = t.dimension_group AND m.price_from = t.price_from
            ORDER BY t.account, t.period_start, t.sku, t.dimension_group COLLATE "C", t.price_from
            """, keys.Select(k => k.Account).ToArray(), keys.Select(k => k.Start.ToUniversalTime()).ToArray());
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = (r.GetString(0), r.GetFieldValue<DateTimeOffset>(1));
            if (!totals.TryGetValue(key, out var rows))
            {
                totals[key] = rows = [];
            }

            rows.Add(new StatementTotalRow(r.GetString(2), r.GetDecimal(3), r.GetInt64(4), r.GetDecimal(5), r.GetString(6), r.GetString(7), r.GetString(8), Instant(r, 9),
                r.IsDBNull(10) ? null : r.GetString(10), r.IsDBNull(11) ? null : r.GetString(11)));
        }

        return totals;
    }

    /// <summary>
    /// What changed the usage of (account, closed period) pairs after they closed, as per-SKU usage changes: their late
    /// usage (<c>adjustments</c>) and the voids and amends of them booked after them (a void takes its record away),
    /// booked into periods before <paramref name="bookedBefore"/> when it is given. The statements of later periods
    /// and re-rating rebuild a closed period from its final statement with these.
    /// </summary>
    public static async Task<Dictionary<(string, DateTimeOffset), List<SkuUsage>>> UsageChangesAsync(NpgsqlConnection connection, NpgsqlTransaction tx,
        IReadOnlyCollection<(string Account, DateTimeOffset Start)> keys, DateTimeOffset? bookedBefore, CancellationToken cancellationToken)
    {
        var changes = new Dictionary<(string, DateTimeOffset), List<SkuUsage>>();
        if (keys.Count == 0)
        {
            return changes;
        }

        await using var cmd = new NpgsqlCommand("""
            WITH k AS (SELECT * FROM unnest($1::text[], $2::timestamptz[]) AS k(account, period_start))
            SELECT a.account, a.original_period_start, a.sku, sum(coalesce(a.meter_quantity, a.quantity)), sum(a.record_count)::bigint, a.dimension_group, a.price_from, sum(a.amount)
            FROM adjustments a JOIN k ON a.account = k.account AND a.original_period_start = k.period_start
            WHERE $3::timestamptz IS NULL OR a.period_start < $3
            GROUP BY a.account, a.original_period_start, a.sku, a.dimension_group, a.price_from
            UNION ALL
            SELECT c.account, c.original_period_start, c.sku, sum(c.quantity_delta), -count(*) FILTER (WHERE c.kind = 'void'), c.dimension_group, c.price_from, NULL::numeric
            FROM corrections c JOIN k ON c.account = k.account AND c.original_period_start = k.period_start
            WHERE c.booked_period_start > c.original_period_start AND ($3::timestamptz IS NULL OR c.booked_period_start < $3)
            GROUP BY c.account, c.original_period_start, c.sku, c.dimension_group, c.price_from
            """, connection, tx);
        cmd.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Account).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => k.Start.ToUniversalTime()).ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)bookedBefore?.ToUniversalTime() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = (r.GetString(0), r.GetFieldValue<DateTimeOffset>(1));
            if (!changes.TryGetValue(key, out var rows))
            {
                changes[key] = rows = [];
            }

            rows.Add(new SkuUsage(r.GetString(2), r.GetDecimal(3), r.GetInt64(4), Group: r.GetString(5), PriceFrom: Instant(r, 6)) { RatedAmount = r.IsDBNull(7) ? null : r.GetDecimal(7) });
        }

        return changes;
    }

    /// <summary>Parses a stored final statement and checks its hash: a stored statement that changed is an error, never served.</summary>
    internal static Statement Read(long id, string canonical, string contentHash)
    {
        var statement = StatementParser.Parse(canonical);
        if (statement.ContentHash != contentHash)
        {
            throw new InvalidOperationException($"final statement {StatementIds.Format(id)} does not match its content hash {contentHash} (recomputed {statement.ContentHash}): the stored row was altered");
        }

        return statement;
    }

    private static DateTimeOffset? Instant(NpgsqlDataReader r, int ordinal) => r.IsDBNull(ordinal) ? null : r.GetFieldValue<DateTimeOffset>(ordinal);

    private NpgsqlCommand Command(string sql, params object?[] parameters)
    {
        var cmd = new NpgsqlCommand(sql, connection, tx);
        foreach (var p in parameters)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        return cmd;
    }
}
