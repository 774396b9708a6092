using Metering.Aggregates.Records;
using Npgsql;

namespace Metering.Ledger.Flush;

/// <summary>
/// The partitions' side of a flush transaction: the fenced next offsets (<c>consumed_offsets</c>), the conservation
/// counters and the offset gaps (data loss) of one consumer group and topic.
/// </summary>
internal sealed class PartitionProgressStore(string consumerGroup, string topic)
{
    /// <summary>The next offsets PostgreSQL holds for this group and topic (where partitions resume).</summary>
    public async Task<Dictionary<int, long>> LoadOffsetsAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var cmd = dataSource.CreateCommand("SELECT partition, next_offset FROM consumed_offsets WHERE consumer_group = $1 AND topic = $2");
        cmd.Parameters.Add(new() { Value = consumerGroup });
        cmd.Parameters.Add(new() { Value = topic });
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var offsets = new Dictionary<int, long>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            offsets[reader.GetInt32(0)] = reader.GetInt64(1);
        }

        return offsets;
    }

    /// <summary>Moves every partition to its next offset; throws <see cref="FencedException"/> when one is no longer where the batch started.</summary>
    public async Task AdvanceOffsetsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<PartitionProgress> partitions, CancellationToken cancellationToken)
    {
        // One statement for all partitions. The fence: an existing row moves only if it still holds the offset this
        // batch started from; a partition never seen before may be inserted. Any partition not returned was fenced.
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO consumed_offsets AS c (consumer_group, topic, partition, next_offset)
            SELECT $1, $2, p, n FROM unnest($3::int[], $4::bigint[]) AS t(p, n)
            ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()
            WHERE c.next_offset = (SELECT s FROM unnest($3::int[], $5::bigint[]) AS f(p, s) WHERE f.p = c.partition)
            RETURNING partition
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = consumerGroup });
        cmd.Parameters.Add(new() { Value = topic });
        cmd.Parameters.Add(ArrayParameter.Of(partitions.Select(p => p.Partition)));
        cmd.Parameters.Add(ArrayParameter.Of(partitions.Select(p => p.NextOffset)));
        cmd.Parameters.Add(ArrayParameter.Of(partitions.Select(p => p.StartOffset)));
        var moved = new HashSet<int>();
        await using (var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                moved.Add(reader.GetInt32(0));
            }
        }

        if (partitions.FirstOrDefault(p => !moved.Contains(p.Partition)) is { } fenced)
        {
            throw new FencedException($"partition {topic}[{fenced.Partition}] is no longer at offset {fenced.StartOffset} in PostgreSQL: another consumer committed it");
        }
    }

    /// <summary>Adds the partitions' read, accepted, duplicate and rejected counts and accepted quantity (the balance verify checks).</summary>
    public async Task AddConservationAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<PartitionProgress> partitions, CancellationToken cancellationToken)
    {
        var quantities = new decimal[partitions.Count];
        for (var i = 0; i < partitions.Count; i++)
        {
            if (!FixedPoint.TryToDecimal(partitions[i].AcceptedNanos, out quantities[i]))
            {
                throw new OverflowException($"partition {partitions[i].Partition}: accepted quantity exceeds numeric(38,9)");
            }
        }

        await using var cmd = new NpgsqlCommand("""
            INSERT INTO conservation AS c (consumer_group, topic, partition, read, accepted, duplicates, rejected, accepted_quantity)
            SELECT $1, $2, p, r, a, d, j, q FROM unnest($3::int[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::numeric[]) AS t(p, r, a, d, j, q)
            ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET
              read = c.read + EXCLUDED.read, accepted = c.accepted + EXCLUDED.accepted,
              duplicates = c.duplicates + EXCLUDED.duplicates, rejected = c.rejected + EXCLUDED.rejected,
              accepted_quantity = c.accepted_quantity + EXCLUDED.accepted_quantity
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = consumerGroup });
        cmd.Parameters.Add(new() { Value = topic });
        cmd.Parameters.Add(ArrayParameter.Of(partitions.Select(p => p.Partition)));
        cmd.Parameters.Add(ArrayParameter.Of(partitions.Select(p => p.Read)));
        cmd.Parameters.Add(ArrayParameter.Of(partitions.Select(p => p.Accepted)));
        cmd.Parameters.Add(ArrayParameter.Of(partitions.Select(p => p.Duplicates)));
        cmd.Parameters.Add(ArrayParameter.Of(partitions.Select(p => p.Rejected)));
        cmd.Parameters.Add(new NpgsqlParameter { Value = quantities });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records offset ranges the broker no longer had (data loss, reported by verify).</summary>
    public async Task StoreGapsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, List<OffsetGap> gaps, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO offset_gaps (consumer_group, topic, partition, from_offset, to_offset)
            SELECT $1, $2, p, f, t FROM unnest($3::int[], $4::bigint[], $5::bigint[]) AS g(p, f, t)
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = consumerGroup });
        cmd.Parameters.Add(new() { Value = topic });
        cmd.Parameters.Add(ArrayParameter.Of(gaps.Select(g => g.Partition)));
        cmd.Parameters.Add(ArrayParameter.Of(gaps.Select(g => g.From)));
        cmd.Parameters.Add(ArrayParameter.Of(gaps.Select(g => g.To)));
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
