using Npgsql;

namespace Metering.Ledger.DeadLetters;

/// <summary>
/// The <c>dead_letters</c> table as the outbox of the dead-letter topic: the flush transaction writes the rows
/// (source <c>kafka:TOPIC</c>), a drainer claims the unpublished ones, produces them and marks them published. Producing
/// is the caller's; this type only claims and marks.
/// </summary>
public static class DeadLetterOutboxStore
{
    /// <summary>
    /// Opens a transaction (read committed) and locks up to <paramref name="limit"/> unpublished dead letters consumed
    /// from <paramref name="sourceTopic"/>, oldest id first, skipping rows another claim holds, so several drainers of
    /// one group never claim the same row at once. The caller disposes the claim.
    /// </summary>
    public static async Task<DeadLetterClaim> ClaimAsync(NpgsqlDataSource db, string sourceTopic, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(sourceTopic);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        NpgsqlTransaction? tx = null;
        try
        {
            tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            var rows = new List<UnpublishedDeadLetter>();
            await using (var select = new NpgsqlCommand("""
                SELECT id, partition, "offset", reason, detail, raw FROM dead_letters
                WHERE source = $1 AND published_at IS NULL ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
                """, connection, tx))
            {
                select.Parameters.Add(new() { Value = "kafka:" + sourceTopic });
                select.Parameters.Add(new() { Value = limit });
                await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    rows.Add(new UnpublishedDeadLetter(reader.GetInt64(0), reader.GetInt32(1), reader.GetInt64(2), reader.GetString(3), reader.GetString(4), (byte[])reader[5]));
                }
            }

            return new DeadLetterClaim(connection, tx, rows);
        }
        catch
        {
            if (tx is not null)
            {
                await tx.DisposeAsync().ConfigureAwait(false);
            }

            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
