using Npgsql;
using NpgsqlTypes;

namespace Metering.Ledger.Outbox;

/// <summary>
/// The <c>rated_window_blobs</c> outbox (migration 0021): the flush writes its rated windows as a few lz4-compressed
/// Arrow IPC streams (<see cref="RatedWindowArrow"/>, at most <see cref="MaxRowsPerBlob"/> rows each) in its own
/// transaction; the exporter reads them by <c>exported_at IS NULL</c> in id order and marks them after ClickHouse has
/// them. A blob's rows carry the ids <see cref="FirstRowId"/> + 0 .. row_count - 1, above every id of the row outbox
/// <c>rated_windows</c> (<see cref="RatedWindowOutbox"/>, which only an engine older than 0021 writes).
/// </summary>
public static class RatedWindowBlobOutbox
{
    /// <summary>Most rows in one blob: bounds the memory of a blob's encoding, its insert and its decoding.</summary>
    public const int MaxRowsPerBlob = 131_072;

    private const long RowIdBase = 1L << 62;
    private const int RowIdsPerBlob = 1 << 24;

    /// <summary>The id of a blob's first row (the CHECK of migration 0021 holds the table to it).</summary>
    public static long FirstRowId(long blobId) => checked(RowIdBase + (blobId * RowIdsPerBlob));

    /// <summary>One blob as the exporter reads it.</summary>
    public sealed record Blob(long Id, long FirstRowId, int RowCount, byte[] Arrow);

    /// <summary>
    /// Writes <paramref name="count"/> rated windows as blobs of up to <paramref name="rowsPerBlob"/> rows on
    /// <paramref name="connection"/> (inside the caller's transaction, if any): reserves the blob ids, lets
    /// <paramref name="append"/> add window i (0-based) with the row id it is given, encodes each blob compressed and
    /// copies them in one binary COPY.
    /// </summary>
    public static async Task WriteAsync(NpgsqlConnection connection, int count, Action<RatedWindowArrow.Builder, long, int> append, CancellationToken cancellationToken, int rowsPerBlob = MaxRowsPerBlob)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(append);
        ArgumentOutOfRangeException.ThrowIfLessThan(rowsPerBlob, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rowsPerBlob, MaxRowsPerBlob);
        if (count == 0)
        {
            return;
        }

        var blobs = (count + rowsPerBlob - 1) / rowsPerBlob;
        var ids = new long[blobs];
        await using (var reserve = new NpgsqlCommand("SELECT nextval('rated_window_blobs_id_seq') FROM generate_series(1, $1)", connection))
        {
            reserve.Parameters.Add(new() { Value = blobs });
            await using var reader = await reserve.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            for (var b = 0; b < blobs && await reader.ReadAsync(cancellationToken).ConfigureAwait(false); b++)
            {
                ids[b] = reader.GetInt64(0);
            }
        }

        await using var copy = await connection.BeginBinaryImportAsync(
            "COPY rated_window_blobs (id, first_row_id, row_count, arrow, currencies, amounts) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false);
        for (var b = 0; b < blobs; b++)
        {
            var from = b * rowsPerBlob;
            var rows = Math.Min(rowsPerBlob, count - from);
            var first = FirstRowId(ids[b]);
            var builder = new RatedWindowArrow.Builder(rows);
            for (var i = 0; i < rows; i++)
            {
                append(builder, first + i, from + i);
            }

            var amounts = builder.AmountsByCurrency;
            var arrow = builder.Encode(compress: true);
            copy.StartRow();
            copy.Write(ids[b], NpgsqlDbType.Bigint);
            copy.Write(first, NpgsqlDbType.Bigint);
            copy.Write(rows, NpgsqlDbType.Integer);
            copy.Write(arrow, NpgsqlDbType.Bytea);
            copy.Write(amounts.Select(a => a.Key).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text);
            copy.Write(amounts.Select(a => a.Value).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Numeric);
        }

        await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The highest blob id committed so far (0 when there is none).</summary>
    public static Task<long> MaxIdAsync(NpgsqlDataSource db, CancellationToken cancellationToken) =>
        OutboxTable.MaxIdAsync(db, OutboxTable.Blobs, cancellationToken);

    /// <summary>
    /// Unexported blobs with <paramref name="afterId"/> &lt; id &lt;= <paramref name="maxId"/>, in id order, as many
    /// as start within the first <paramref name="maxRows"/> rows (so always one when any is left, whatever its size).
    /// </summary>
    public static async Task<IReadOnlyList<Blob>> ReadUnexportedAsync(NpgsqlDataSource db, long afterId, long maxId, int maxRows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        // The running sum reads only id and row_count (the arrow column is stored out of line), then the chosen
        // blobs' bytes are fetched.
        await using var cmd = db.CreateCommand("""
            WITH pick AS (
              SELECT id FROM (
                SELECT id, sum(row_count) OVER (ORDER BY id) - row_count AS before
                FROM rated_window_blobs WHERE exported_at IS NULL AND id > $1 AND id <= $2) t
              WHERE before < $3)
            SELECT b.id, b.first_row_id, b.row_count, b.arrow FROM rated_window_blobs b JOIN pick USING (id) ORDER BY b.id
            """);
        cmd.Parameters.Add(new() { Value = afterId });
        cmd.Parameters.Add(new() { Value = maxId });
        cmd.Parameters.Add(new() { Value = (long)maxRows });
        var blobs = new List<Blob>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            blobs.Add(new Blob(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt32(2), reader.GetFieldValue<byte[]>(3)));
        }

        return blobs;
    }

    /// <summary>Sets <c>exported_at</c> on those of the blobs <paramref name="ids"/> not marked yet.</summary>
    public static Task MarkExportedAsync(NpgsqlDataSource db, IReadOnlyCollection<long> ids, CancellationToken cancellationToken) =>
        OutboxTable.MarkExportedAsync(db, OutboxTable.Blobs, ids, cancellationToken);

    /// <summary>
    /// Makes every blob unexported again, so the next export passes send everything once more: a re-export into a
    /// fresh ClickHouse database, or a benchmark's next round. Harmless to one that has the rows (they collapse by id).
    /// </summary>
    public static async Task MarkAllUnexportedAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        await using var cmd = db.CreateCommand("UPDATE rated_window_blobs SET exported_at = NULL WHERE exported_at IS NOT NULL");
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Rated windows not exported yet, in both outboxes (the partial indexes hold exactly them).</summary>
    public static async Task<long> PendingRowsAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        await using var cmd = db.CreateCommand("""
            SELECT (SELECT count(*) FROM rated_windows WHERE exported_at IS NULL)
                 + (SELECT coalesce(sum(row_count), 0) FROM rated_window_blobs WHERE exported_at IS NULL)
            """);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Every rated window of both outboxes, exported or not, in id order (the row outbox's first): for checks and
    /// tests that look at what the flushes wrote, not for the export path.
    /// </summary>
    public static async Task<List<RatedWindowRow>> ReadAllRowsAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        var rows = new List<RatedWindowRow>(await RatedWindowOutbox.ReadAllAsync(db, cancellationToken).ConfigureAwait(false));
        await using var cmd = db.CreateCommand("SELECT arrow FROM rated_window_blobs ORDER BY id");
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.AddRange(RatedWindowArrow.Decode(reader.GetFieldValue<byte[]>(0)));
        }

        return rows;
    }
}
