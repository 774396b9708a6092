using Metering.Aggregates.Dedup;
using Npgsql;

namespace Metering.Ledger.Flush;

/// <summary>
/// The lateness window's durable dedup store over seen_id_blocks (migration 0016): answers, for records older than
/// the engine's in-memory horizon, whether a committed flush of this group and topic counted their id. One query per
/// call for all the event days asked; each block is binary-searched. Reads committed data only (the ids of the
/// flush in flight are <see cref="LateDedup"/>'s to remember). Synchronous, for the engine's poll thread; not
/// thread-safe.
/// </summary>
public sealed class SeenIdArchive(NpgsqlDataSource dataSource, string consumerGroup, string topic) : ISeenIdArchive
{
    /// <summary>Blocks read since start (each lookup reads every block of the days it asks).</summary>
    public long BlocksRead { get; private set; }

    /// <summary>Bytes of blocks read since start.</summary>
    public long BytesRead { get; private set; }

    /// <inheritdoc />
    public void FindSeen(ReadOnlySpan<SeenId> ids, Span<bool> seen, Span<ulong> firstDigests)
    {
        seen[..ids.Length].Clear();
        firstDigests[..ids.Length].Clear();
        var byDay = new Dictionary<DateOnly, List<int>>();
        for (var i = 0; i < ids.Length; i++)
        {
            var day = SeenIdBlock.DayOf(ids[i].TimeTicks);
            if (!byDay.TryGetValue(day, out var list))
            {
                byDay[day] = list = [];
            }

            list.Add(i);
        }

        var days = byDay.Keys.ToArray();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Read(days, byDay, ids, seen, firstDigests);
                return;
            }
            catch (Exception e) when (FlushFaults.Classify(e) == FlushFaultKind.Infrastructure && attempt < 60)
            {
                // PostgreSQL restarting: the answer must be exact, so wait for it rather than guess.
                NpgsqlConnection.ClearAllPools();
                Thread.Sleep(TimeSpan.FromMilliseconds(Math.Min(2_000, 100 * attempt)));
            }
        }
    }

    private void Read(DateOnly[] days, Dictionary<DateOnly, List<int>> byDay, ReadOnlySpan<SeenId> ids, Span<bool> seen, Span<ulong> firstDigests)
    {
        using var cmd = dataSource.CreateCommand("SELECT event_day, fingerprints FROM seen_id_blocks WHERE consumer_group = $1 AND topic = $2 AND event_day = ANY($3)");
        cmd.Parameters.Add(new() { Value = consumerGroup });
        cmd.Parameters.Add(new() { Value = topic });
        cmd.Parameters.Add(new() { Value = days });
        using var reader = cmd.ExecuteReader();
        while (reader.Read())
        {
            var day = reader.GetFieldValue<DateOnly>(0);
            var block = reader.GetFieldValue<byte[]>(1);
            BlocksRead++;
            BytesRead += block.Length;
            foreach (var i in byDay[day])
            {
                if (!seen[i] && SeenIdBlock.TryFind(block, ids[i].Fingerprint, out var digest))
                {
                    seen[i] = true;
                    firstDigests[i] = digest;
                }
            }
        }
    }
}
