using Npgsql;

namespace Metering.Ledger.Outbox;

/// <summary>
/// The <c>rated_windows</c> outbox as the analytics exporter reads and marks it (the flush transaction writes the
/// rows). Rows are chosen by <c>exported_at IS NULL</c>, not by a high-water mark, so a transaction that committed a
/// lower id late is still read. Each call is one autocommit statement.
/// </summary>
public static class RatedWindowOutbox
{
    /// <summary>The highest outbox id committed so far (0 when the outbox is empty).</summary>
    public static async Task<long> MaxIdAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        await using var max = db.CreateCommand("SELECT coalesce(max(id), 0) FROM rated_windows");
        return (long)(await max.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// Up to <paramref name="limit"/> unexported rows with <paramref name="afterId"/> &lt; id &lt;= <paramref name="maxId"/>,
    /// in id order; instants are UTC, the currency without its char(3) padding.
    /// </summary>
    public static async Task<IReadOnlyList<RatedWindowRow>> ReadUnexportedAsync(NpgsqlDataSource db, long afterId, long maxId, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var cmd = db.CreateCommand("""
            SELECT id, account, sku, window_start, window_end, dimensions::text, quantity, record_count, amount, currency, price_book_hash, period_start
            FROM rated_windows
            WHERE exported_at IS NULL AND id > $1 AND id <= $2
            ORDER BY id
            LIMIT $3
            """);
        cmd.Parameters.Add(new() { Value = afterId });
        cmd.Parameters.Add(new() { Value = maxId });
        cmd.Parameters.Add(new() { Value = limit });
        var rows = new List<RatedWindowRow>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new RatedWindowRow(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.GetString(2),
                Utc(reader.GetDateTime(3)),
                Utc(reader.GetDateTime(4)),
                reader.GetString(5),
                reader.GetDecimal(6),
                reader.GetInt64(7),
                reader.GetDecimal(8),
                reader.GetString(9).TrimEnd(),
                reader.GetString(10),
                Utc(reader.GetDateTime(11))));
        }

        return rows;
    }

    /// <summary>Sets <c>exported_at</c> on those of <paramref name="ids"/> not marked yet (a re-sent batch keeps its first mark).</summary>
    public static async Task MarkExportedAsync(NpgsqlDataSource db, IReadOnlyCollection<long> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(ids);
        await using var cmd = db.CreateCommand("UPDATE rated_windows SET exported_at = now() WHERE id = ANY($1) AND exported_at IS NULL");
        cmd.Parameters.Add(new() { Value = ids as long[] ?? [.. ids] });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static DateTimeOffset Utc(DateTime t) => new(DateTime.SpecifyKind(t, DateTimeKind.Utc));
}
