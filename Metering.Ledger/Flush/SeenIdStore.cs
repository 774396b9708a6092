using System.Buffers.Binary;
using Metering.Aggregates.Dedup;
using Npgsql;

namespace Metering.Ledger.Flush;

/// <summary>
/// The persisted dedup horizon: the ids first seen in a flush, stored in that flush's transaction as one blob, and
/// replayed into a fresh <see cref="DedupHorizon"/> at start. Two blob formats (docs/ledger.md):
/// version 1 (written before payload digests): n x 24 bytes (fingerprint, event ticks), no header;
/// version 2 (written now): one byte 0x02, then n x 32 bytes (fingerprint, payload digest, event ticks).
/// All big-endian. A version 1 blob's length is a multiple of 24, so even, and a version 2 blob's is odd: the
/// length alone tells them apart, with no migration. Version 1 ids load without a digest, so a record matched
/// against one stays a duplicate (<see cref="PayloadDigest.Conflicts"/>).
/// The same ids also go to seen_id_blocks (<see cref="SeenIdBlock"/>), the store of the lateness window.
/// </summary>
internal sealed class SeenIdStore(string consumerGroup, string topic)
{
    /// <summary>The header byte of a version 2 blob.</summary>
    internal const byte Version2 = 2;
    private const int EntryBytesV1 = 24;
    private const int EntryBytesV2 = 32;

    public async Task StoreAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<SeenId> ids, CancellationToken cancellationToken)
    {
        var blob = Encode(ids);
        long maxTicks = 0;
        for (var i = 0; i < ids.Count; i++)
        {
            maxTicks = Math.Max(maxTicks, ids[i].TimeTicks);
        }

        await using var cmd = new NpgsqlCommand("INSERT INTO seen_id_batches (consumer_group, topic, max_event_time, fingerprints) VALUES ($1, $2, $3, $4)", connection, tx);
        cmd.Parameters.Add(new() { Value = consumerGroup });
        cmd.Parameters.Add(new() { Value = topic });
        cmd.Parameters.Add(new() { Value = new DateTime(maxTicks, DateTimeKind.Utc) });
        cmd.Parameters.Add(new() { Value = blob });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await StoreBlocksAsync(connection, tx, ids, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes the ids into seen_id_blocks, one block per event day (the lateness window's durable store,
    /// <see cref="SeenIdArchive"/>): in the flush transaction, so a replay after a crash never finds an id whose usage
    /// was not committed, and never misses one whose usage was.
    /// </summary>
    private async Task StoreBlocksAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<SeenId> ids, CancellationToken cancellationToken)
    {
        var byDay = new SortedDictionary<DateOnly, List<SeenId>>();
        for (var i = 0; i < ids.Count; i++)
        {
            var day = SeenIdBlock.DayOf(ids[i].TimeTicks);
            if (!byDay.TryGetValue(day, out var list))
            {
                byDay[day] = list = [];
            }

            list.Add(ids[i]);
        }

        var days = new DateOnly[byDay.Count];
        var counts = new int[byDay.Count];
        var blocks = new byte[byDay.Count][];
        var k = 0;
        foreach (var (day, list) in byDay)
        {
            days[k] = day;
            counts[k] = list.Count;
            blocks[k++] = SeenIdBlock.Encode(list);
        }

        await using var cmd = new NpgsqlCommand("""
            INSERT INTO seen_id_blocks (consumer_group, topic, event_day, ids, fingerprints)
            SELECT $1, $2, d, n, f FROM unnest($3::date[], $4::integer[], $5::bytea[]) AS u(d, n, f)
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = consumerGroup });
        cmd.Parameters.Add(new() { Value = topic });
        cmd.Parameters.Add(new() { Value = days });
        cmd.Parameters.Add(new() { Value = counts });
        cmd.Parameters.Add(new() { Value = blocks });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The version 2 blob of <paramref name="ids"/>.</summary>
    internal static byte[] Encode(IReadOnlyList<SeenId> ids)
    {
        var blob = new byte[1 + (ids.Count * EntryBytesV2)];
        blob[0] = Version2;
        for (var i = 0; i < ids.Count; i++)
        {
            var entry = blob.AsSpan(1 + (i * EntryBytesV2), EntryBytesV2);
            BinaryPrimitives.WriteUInt128BigEndian(entry, ids[i].Fingerprint);
            BinaryPrimitives.WriteUInt64BigEndian(entry[16..], ids[i].PayloadDigest);
            BinaryPrimitives.WriteInt64BigEndian(entry[24..], ids[i].TimeTicks);
        }

        return blob;
    }

    /// <summary>Appends the ids of a blob of either version to <paramref name="into"/>; a version 1 id has no digest.</summary>
    internal static void Decode(byte[] blob, List<SeenId> into)
    {
        if (blob.Length % 2 == 0)
        {
            for (var i = 0; i + EntryBytesV1 <= blob.Length; i += EntryBytesV1)
            {
                into.Add(new SeenId(BinaryPrimitives.ReadUInt128BigEndian(blob.AsSpan(i, 16)), PayloadDigest.None, BinaryPrimitives.ReadInt64BigEndian(blob.AsSpan(i + 16, 8))));
            }

            return;
        }

        if (blob[0] != Version2)
        {
            // Written by a newer version this one does not know: refusing is safer than a horizon with holes.
            throw new InvalidDataException($"seen_id_batches holds a blob of format version {blob[0]}; this version reads 1 and 2");
        }

        for (var i = 1; i + EntryBytesV2 <= blob.Length; i += EntryBytesV2)
        {
            var entry = blob.AsSpan(i, EntryBytesV2);
            into.Add(new SeenId(BinaryPrimitives.ReadUInt128BigEndian(entry), BinaryPrimitives.ReadUInt64BigEndian(entry[16..]), BinaryPrimitives.ReadInt64BigEndian(entry[24..])));
        }
    }

    /// <summary>Replays the persisted ids within <paramref name="horizon"/> of the newest into a fresh dedup horizon.</summary>
    public async Task<DedupHorizon> LoadDedupAsync(NpgsqlDataSource dataSource, TimeSpan horizon, int maxEntries, CancellationToken cancellationToken)
    {
        var entries = new List<SeenId>();
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
                Decode((byte[])reader[0], entries);
            }
        }

        // In event-time order, so the horizon's watermark advances as it did when the ids were first seen.
        entries.Sort((a, b) => a.TimeTicks.CompareTo(b.TimeTicks));
        var dedup = new DedupHorizon(horizon, maxEntries);
        foreach (var id in entries)
        {
            dedup.Check(id.Fingerprint, id.PayloadDigest, id.TimeTicks);
        }

        return dedup;
    }
}
