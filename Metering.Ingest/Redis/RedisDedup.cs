using System.Buffers.Binary;
using System.Collections.Concurrent;
using Metering.Ingest.Streaming;
using StackExchange.Redis;

namespace Metering.Ingest.Redis;

/// <summary>
/// The shared dedup horizon in Redis: one key per accepted id, <c>{prefix}d:</c> + the record's 16-byte
/// tenant-scoped fingerprint (binary), value "1", expiring after the dedup horizon. Lookups are one MGET per chunk
/// of records; marks are <c>SET NX PX</c> run by a script per 1,000 ids, after the flush that counted them committed.
/// Redis down: lookups answer "not seen" (the engine's own horizon, rebuilt from PostgreSQL, still applies), marks
/// wait in a bounded backlog and are replayed when Redis is back; <see cref="Degraded"/> says so.
/// Needs a single Redis (or a primary with replicas): a chunk's MGET spans hash slots, which Redis Cluster refuses.
/// </summary>
public sealed class RedisDedup : ISharedDedup
{
    private const string MarkScript = "for i = 1, #KEYS do redis.call('SET', KEYS[i], '1', 'PX', ARGV[1], 'NX') end return #KEYS";

    private readonly IDatabase _db;
    private readonly byte[] _prefix;
    private readonly TimeSpan _horizon;
    private readonly int _maxBacklog;
    private readonly ConcurrentQueue<(UInt128 Fingerprint, long TimeTicks)[]> _backlog = new();
    private long _backlogIds;
    private int _degraded;

    /// <summary>Uses <paramref name="redis"/>; keys start with <paramref name="prefix"/> (e.g. "metering:group:topic:").</summary>
    public RedisDedup(IConnectionMultiplexer redis, string prefix, TimeSpan horizon, int maxBacklog = 5_000_000)
    {
        ArgumentNullException.ThrowIfNull(redis);
        _db = redis.GetDatabase();
        _prefix = System.Text.Encoding.UTF8.GetBytes(prefix + "d:");
        _horizon = horizon;
        _maxBacklog = maxBacklog;
    }

    /// <inheritdoc />
    public bool Degraded => Volatile.Read(ref _degraded) != 0;

    /// <summary>Lookups answered (records checked) since start.</summary>
    public long Lookups { get; private set; }

    /// <summary>Ids marked since start.</summary>
    public long Marked => Interlocked.Read(ref _marked);

    private long _marked;

    /// <summary>Ids dropped from the backlog because it was full while Redis was down (they stay in PostgreSQL's horizon).</summary>
    public long BacklogDropped => Interlocked.Read(ref _backlogDropped);

    private long _backlogDropped;

    /// <inheritdoc />
    public bool TryFindSeen(ReadOnlySpan<UInt128> fingerprints, Span<bool> seen)
    {
        seen[..fingerprints.Length].Clear();
        if (fingerprints.Length == 0)
        {
            return true;
        }

        var keys = new RedisKey[fingerprints.Length];
        for (var i = 0; i < fingerprints.Length; i++)
        {
            keys[i] = Key(fingerprints[i]);
        }

        RedisValue[] values;
        try
        {
            values = _db.StringGet(keys);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Volatile.Write(ref _degraded, 1);
            return false;
        }

        Lookups += fingerprints.Length;
        for (var i = 0; i < values.Length; i++)
        {
            seen[i] = values[i].HasValue;
        }

        if (Degraded)
        {
            Volatile.Write(ref _degraded, 0);
            ReplayBacklog();
        }

        return true;
    }

    /// <inheritdoc />
    public void MarkAccepted(IReadOnlyList<(UInt128 Fingerprint, long TimeTicks)> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count > 0)
        {
            _ = MarkAsync([.. ids]);
        }
    }

    /// <summary>Marks and awaits (tests, benchmarks); failures go to the backlog and set <see cref="Degraded"/>.</summary>
    public async Task MarkAsync((UInt128 Fingerprint, long TimeTicks)[] ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        try
        {
            // One script call per 1,000 ids (SET NX PX each, server-side), pipelined: a command per id would cost a
            // task and a reply each, and the marks would run at a quarter of the server's pipelined SET rate.
            var expiry = (long)_horizon.TotalMilliseconds;
            var calls = new List<Task>();
            foreach (var chunk in ids.Chunk(1_000))
            {
                var keys = new RedisKey[chunk.Length];
                for (var i = 0; i < chunk.Length; i++)
                {
                    keys[i] = Key(chunk[i].Fingerprint);
                }

                calls.Add(_db.ScriptEvaluateAsync(MarkScript, keys, [expiry]));
            }

            await Task.WhenAll(calls).ConfigureAwait(false);
            Interlocked.Add(ref _marked, ids.Length);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Volatile.Write(ref _degraded, 1);
            if (Interlocked.Add(ref _backlogIds, ids.Length) <= _maxBacklog)
            {
                _backlog.Enqueue(ids);
            }
            else
            {
                Interlocked.Add(ref _backlogIds, -ids.Length);
                Interlocked.Add(ref _backlogDropped, ids.Length);
            }
        }
    }

    private void ReplayBacklog()
    {
        while (_backlog.TryDequeue(out var ids))
        {
            Interlocked.Add(ref _backlogIds, -ids.Length);
            _ = MarkAsync(ids);
        }
    }

    private RedisKey Key(UInt128 fingerprint)
    {
        var key = new byte[_prefix.Length + 16];
        _prefix.CopyTo(key, 0);
        BinaryPrimitives.WriteUInt128BigEndian(key.AsSpan(_prefix.Length), fingerprint);
        return key;
    }
}
