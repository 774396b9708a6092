using Npgsql;

namespace Metering.Ledger.Outbox;

/// <summary>
/// The row outbox <c>rated_windows</c> (a row per rated window), as the analytics exporter reads and marks it. Flushes
/// write <see cref="RatedWindowBlobOutbox"/> since migration 0021; this table only holds what an older engine wrote,
/// and the exporter drains it first so an upgrade loses nothing. Rows are chosen by <c>exported_at IS NULL</c>, not
/// by a high-water mark, so a transaction that committed a lower id late is still read. Each call is one autocommit
/// statement.
/// </summary>
public static class RatedWindowOutbox
{
    /// <summary>The highest outbox id committed so far (0 when the outbox is empty).</summary>
    public static Task<long> MaxIdAsync(NpgsqlDataSource db, CancellationToken cancellationToken) =>
        OutboxTable.MaxIdAsync(db, OutboxTable.Rows, cancellationToken);

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
        return await ReadRowsAsync(cmd, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every row, exported or not, in id order.</summary>
    public static async Task<IReadOnlyList<RatedWindowRow>> ReadAllAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        await using var cmd = db.CreateCommand("""
            SELECT id, account, sku, window_start, window_end, dimensions::text, quantity, record_count, amount, currency, price_book_hash, period_start
            FROM rated_windows ORDER BY id
            """);
        return await ReadRowsAsync(cmd, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<IReadOnlyList<RatedWindowRow>> ReadRowsAsync(NpgsqlCommand cmd, CancellationToken cancellationToken)
    {
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
    public static Task MarkExportedAsync(NpgsqlDataSource db, IReadOnlyCollection<long> ids, CancellationToken cancellationToken) =>
        OutboxTable.MarkExportedAsync(db, OutboxTable.Rows, ids, cancellationToken);

    private static DateTimeOffset Utc(DateTime t) => new(DateTime.SpecifyKind(t, DateTimeKind.Utc));
}
