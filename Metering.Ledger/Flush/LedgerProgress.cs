using Npgsql;

namespace Metering.Ledger.Flush;

/// <summary>How far the flushes of a consumer group have got, read from the ledger (what is committed, not what is consumed).</summary>
public static class LedgerProgress
{
    /// <summary>
    /// Records of <paramref name="topic"/> committed by <paramref name="consumerGroup"/>: the sum of <c>conservation.read</c>
    /// over its partitions (accepted + duplicates + rejected), 0 before the first flush.
    /// </summary>
    public static async Task<long> CommittedRecordsAsync(NpgsqlDataSource db, string consumerGroup, string topic, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(consumerGroup);
        ArgumentNullException.ThrowIfNull(topic);
        await using var cmd = db.CreateCommand("SELECT coalesce(sum(read), 0)::bigint FROM conservation WHERE consumer_group = $1 AND topic = $2");
        cmd.Parameters.Add(new() { Value = consumerGroup });
        cmd.Parameters.Add(new() { Value = topic });
        return (long)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }
}
