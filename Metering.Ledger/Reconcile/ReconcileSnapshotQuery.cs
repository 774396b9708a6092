using System.Data;
using Metering.Ledger.Outbox;
using Npgsql;

namespace Metering.Ledger.Reconcile;

/// <summary>
/// Reads what the ledger says about one billing period for a reconcile against ClickHouse: the totals, the outbox's
/// highest id and the period's unexported outbox rows (of the row outbox and of the blobs), all in ONE REPEATABLE READ transaction, so the three agree
/// with each other even while flushes and exports commit meanwhile.
/// </summary>
public static class ReconcileSnapshotQuery
{
    /// <summary>
    /// Reads the snapshot of the period starting at <paramref name="periodStart"/>; at most
    /// <paramref name="inFlightLimit"/> in-flight rows are read (ask for one more than you accept to detect "too many").
    /// </summary>
    public static async Task<ReconcileSnapshot> ReadAsync(NpgsqlDataSource db, DateTimeOffset periodStart, int inFlightLimit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentOutOfRangeException.ThrowIfLessThan(inFlightLimit, 0);
        var totals = new List<ReconcileTotal>();
        var inFlight = new List<ReconcileInFlight>();
        long maxId;
        await using (var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
        await using (var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false))
        {
            await using (var cmd = new NpgsqlCommand("""
                SELECT account, sku, sum(q), sum(c)::bigint, sum(a) FROM (
                  SELECT account, sku, quantity AS q, record_count AS c, amount AS a FROM billing_period_totals WHERE period_start = $1
                  -- late usage of a closed period: its rated windows carry the period they belong to, the ledger books
                  -- them as adjustments referencing it (docs/ledger.md)
                  UNION ALL SELECT account, sku, quantity, record_count, amount FROM adjustments WHERE original_period_start = $1) t
                GROUP BY account, sku
                """, connection, tx))
            {
                cmd.Parameters.Add(new() { Value = periodStart.UtcDateTime });
                await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    totals.Add(new ReconcileTotal(reader.GetString(0), reader.GetString(1), reader.GetDecimal(2), reader.GetInt64(3), reader.GetDecimal(4)));
                }
            }

            // Blob rows' ids lie above every row-outbox id (migration 0021), so the highest id is the last blob's last row.
            await using (var cmd = new NpgsqlCommand(
                "SELECT greatest((SELECT coalesce(max(id), 0) FROM rated_windows), (SELECT coalesce(max(first_row_id + row_count - 1), 0) FROM rated_window_blobs))", connection, tx))
            {
                maxId = (long)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }

            await using (var cmd = new NpgsqlCommand(
                "SELECT id, account, sku, quantity, record_count, amount FROM rated_windows WHERE exported_at IS NULL AND period_start = $1 ORDER BY id LIMIT $2", connection, tx))
            {
                cmd.Parameters.Add(new() { Value = periodStart.UtcDateTime });
                cmd.Parameters.Add(new() { Value = inFlightLimit });
                await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    inFlight.Add(new ReconcileInFlight(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetDecimal(3), reader.GetInt64(4), reader.GetDecimal(5)));
                }
            }

            // The blobs not exported yet, decoded: their rows of the period are in flight like the row outbox's.
            await using (var cmd = new NpgsqlCommand("SELECT arrow FROM rated_window_blobs WHERE exported_at IS NULL ORDER BY id", connection, tx))
            {
                await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (inFlight.Count < inFlightLimit && await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    foreach (var r in RatedWindowArrow.Decode(reader.GetFieldValue<byte[]>(0)))
                    {
                        if (r.PeriodStart == periodStart && inFlight.Count < inFlightLimit)
                        {
                            inFlight.Add(new ReconcileInFlight(r.Id, r.Account, r.Sku, r.Quantity, r.RecordCount, r.Amount));
                        }
                    }
                }
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        return new ReconcileSnapshot(totals, maxId, inFlight);
    }
}
