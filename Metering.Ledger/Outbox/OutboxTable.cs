using Npgsql;

namespace Metering.Ledger.Outbox;

/// <summary>
/// The two statements both rated-window outboxes share, on the table named: the row outbox <c>rated_windows</c> and
/// the blob outbox <c>rated_window_blobs</c> are read and marked the same way, by id and <c>exported_at</c>.
/// </summary>
internal static class OutboxTable
{
    public const string Rows = "rated_windows";
    public const string Blobs = "rated_window_blobs";

    /// <summary>The highest id committed so far in <paramref name="table"/> (0 when it is empty).</summary>
    public static async Task<long> MaxIdAsync(NpgsqlDataSource db, string table, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        await using var max = db.CreateCommand($"SELECT coalesce(max(id), 0) FROM {Known(table)}");
        return (long)(await max.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Sets <c>exported_at</c> on those of <paramref name="ids"/> not marked yet (a re-sent batch keeps its first mark).</summary>
    public static async Task MarkExportedAsync(NpgsqlDataSource db, string table, IReadOnlyCollection<long> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(ids);
        await using var cmd = db.CreateCommand($"UPDATE {Known(table)} SET exported_at = now() WHERE id = ANY($1) AND exported_at IS NULL");
        cmd.Parameters.Add(new() { Value = ids as long[] ?? [.. ids] });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string Known(string table) => table is Rows or Blobs ? table : throw new ArgumentOutOfRangeException(nameof(table), table, "not an outbox table");
}
