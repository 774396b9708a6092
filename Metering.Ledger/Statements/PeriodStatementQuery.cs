using Npgsql;

namespace Metering.Ledger.Statements;

/// <summary>The reads behind a billing-period statement (<c>GET /v1/accounts/{account}/periods/{period}</c>).</summary>
public static class PeriodStatementQuery
{
    /// <summary>
    /// The statement of <paramref name="account"/> for the period starting at <paramref name="periodStart"/>. The three
    /// reads (totals, adjustments, closed periods) run in one repeatable-read transaction, so lines, adjustments and
    /// the closed flag agree with each other even while a flush or a close commits.
    /// </summary>
    public static async Task<PeriodStatement> ReadAsync(NpgsqlDataSource db, string account, DateTimeOffset periodStart, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var lines = new List<StatementLine>();
        var adjustments = new List<StatementAdjustment>();
        DateTimeOffset? end = null;
        var closed = false;
        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        await using (var cmd = new NpgsqlCommand("""
            SELECT t.sku, coalesce(m.quantity, t.quantity), t.record_count, t.amount, trim(t.currency), t.price_book, t.price_book_version, t.price_book_hash, t.period_end, t.closed, t.dimension_group
            FROM billing_period_totals t
            LEFT JOIN meter_states m ON m.account = t.account AND m.sku = t.sku AND m.period_start = t.period_start AND m.dimension_group = t.dimension_group AND m.price_from = t.price_from
            WHERE t.account = $1 AND t.period_start = $2 ORDER BY t.sku, t.dimension_group COLLATE "C", t.price_from
            """, connection, tx))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = account });
            cmd.Parameters.Add(new NpgsqlParameter { Value = periodStart });
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                lines.Add(new StatementLine(r.GetString(0), r.GetDecimal(1), r.GetInt64(2), r.GetDecimal(3), r.GetString(4), r.GetString(5), r.GetString(6), r.GetString(7), r.GetString(10)));
                end = r.GetFieldValue<DateTimeOffset>(8);
                closed |= r.GetBoolean(9);
            }
        }

        await using (var cmd = new NpgsqlCommand("""
            SELECT id, sku, original_period_start, quantity, record_count, amount, trim(currency), price_book_hash, reference
            FROM adjustments WHERE account = $1 AND period_start = $2 ORDER BY id
            """, connection, tx))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = account });
            cmd.Parameters.Add(new NpgsqlParameter { Value = periodStart });
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                adjustments.Add(new StatementAdjustment(r.GetInt64(0), r.GetString(1), r.GetFieldValue<DateTimeOffset>(2), r.GetDecimal(3), r.GetInt64(4), r.GetDecimal(5), r.GetString(6), r.GetString(7), r.GetString(8)));
            }
        }

        await using (var cmd = new NpgsqlCommand("SELECT period_end FROM closed_periods WHERE period_start = $1", connection, tx))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = periodStart });
            if (await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is DateTime closedEnd)
            {
                closed = true;
                end ??= new DateTimeOffset(closedEnd, TimeSpan.Zero);
            }
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new PeriodStatement(lines, adjustments, end, closed);
    }
}
