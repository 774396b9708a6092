using System.Buffers.Binary;
using Metering.Aggregates.Dedup;
using Npgsql;

namespace Metering.Ledger.Flush;

/// <summary>
/// The persisted dedup horizon: the ids first seen in a flush, stored in that flush's transaction as one blob of
/// 24-byte entries (fingerprint, event time), and replayed into a fresh <see cref="DedupHorizon"/> at start.
/// </summary>
internal sealed class SeenIdStore(string consumerGroup, string topic)
{
    private const int EntryBytes = 24;

    public async Task StoreAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<(UInt128 Fingerprint, long TimeTicks)> ids, CancellationToken cancellationToken)
    {
        var blob = new byte[ids.Count * EntryBytes];
        long maxTicks = 0;
        for (var i = 0; i < ids.Count; i++)
        {
            BinaryPrimitives.WriteUInt128BigEndian(blob.AsSpan(i * EntryBytes, 16), ids[i].Fingerprint);
            BinaryPrimitives.WriteInt64BigEndian(blob.AsSpan((i * EntryBytes) + 16, 8), ids[i].TimeTicks);
            maxTicks = Math.Max(maxTicks, ids[i].TimeTicks);
        }

        await using var cmd = new NpgsqlCommand("INSERT INTO seen_id_batches (consumer_group, topic, max_event_time, fingerprints) VALUES ($1, $2, $3, $4)", connection, tx);
        cmd.Parameters.Add(new() { Value = consumerGroup });
        cmd.Parameters.Add(new() { Value = topic });
        cmd.Parameters.Add(new() { Value = new DateTime(maxTicks, DateTimeKind.Utc) });
        cmd.Parameters.Add(new() { Value = blob });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Replays the persisted ids within <paramref name="horizon"/> of the newest into a fresh dedup horizon.</summary>
    public async Task<DedupHorizon> LoadDedupAsync(NpgsqlDataSource dataSource, TimeSpan horizon, int maxEntries, CancellationToken cancellationToken)
    {
        var entries = new List<(UInt128, long)>();
        await using (var cmd = dataSource.CreateCommand("""
            SELECT fingerprints FROM seen_id_batches
            WHERE consumer_group = $1 AND topic = $2
              AND max_event_time >= (SELECT max(max_event_time) FROM seen_id_batches WHERE consumer_group = $1 AND topic = $2) - $3::interval
            """))
        {
            cmd.Parameters.Add(new() { Value = consumerGroup });
            cmd.Parameters.Add(new() { Value = topic });
            cmd.Parameters.Add(new() { Value = horizon });
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var blob = (byte[])reader[0];
                for (var i = 0; i + EntryBytes <= blob.Length; i += EntryBytes)
                {
                    entries.Add((BinaryPrimitives.ReadUInt128BigEndian(blob.AsSpan(i, 16)), BinaryPrimitives.ReadInt64BigEndian(blob.AsSpan(i + 16, 8))));
                }
            }
        }

        // In event-time order, so the horizon's watermark advances as it did when the ids were first seen.
        entries.Sort((a, b) => a.Item2.CompareTo(b.Item2));
        var dedup = new DedupHorizon(horizon, maxEntries);
        foreach (var (fingerprint, ticks) in entries)
        {
            dedup.Check(fingerprint, ticks);
        }

        return dedup;
    }
}
