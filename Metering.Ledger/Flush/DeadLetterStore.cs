using Npgsql;
using NpgsqlTypes;

namespace Metering.Ledger.Flush;

/// <summary>The dead letters of a flush (<c>dead_letters</c>, source <c>kafka:TOPIC</c>), with their raw bytes for replay.</summary>
internal sealed class DeadLetterStore(string topic)
{
    public async Task StoreAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<KafkaDeadLetter> letters, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO dead_letters (source, partition, "offset", reason, detail, raw)
            SELECT $1, p, o, r, d, w FROM unnest($2::int[], $3::bigint[], $4::text[], $5::text[], $6::bytea[]) AS t(p, o, r, d, w)
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = "kafka:" + topic });
        cmd.Parameters.Add(ArrayParameter.Of(letters.Select(l => l.Partition)));
        cmd.Parameters.Add(ArrayParameter.Of(letters.Select(l => l.Offset)));
        cmd.Parameters.Add(ArrayParameter.Of(letters.Select(l => l.Reason)));
        cmd.Parameters.Add(ArrayParameter.Of(letters.Select(l => l.Detail)));
        cmd.Parameters.Add(new NpgsqlParameter { Value = letters.Select(l => l.Raw).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
