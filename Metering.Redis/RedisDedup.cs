using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using Metering.Ledger.SeenIds;
using StackExchange.Redis;

namespace Metering.Redis;

/// <summary>
/// The shared dedup horizon in Redis. Accepted ids are members of one Redis set per minute of event time,
/// <c>{prefix}d:{minute}</c>, holding the records' 16-byte tenant-scoped fingerprints (binary); a set expires one
/// dedup horizon after its last mark. A duplicate is the same record again, so it has the same event time and lands
/// in the same minute's set: a lookup is one <c>SMISMEMBER</c> per minute a chunk of records spans (usually one or
/// two), a mark is one <c>SADD</c> + <c>EXPIRE</c> per minute, after the flush that counted the records committed.
/// Compared with a key per id this costs a command per minute instead of per id, and less memory per id.
/// Redis down: lookups answer "not seen" (the engine's own horizon, rebuilt from PostgreSQL, still applies), marks
/// wait in a bounded backlog and are replayed when Redis is back; <see cref="Degraded"/> says so.
/// </summary>
public sealed class RedisDedup : ISharedDedup
{
    private readonly IDatabase _db;
    private readonly string _prefix;
    private readonly TimeSpan _horizon;
    private readonly int _maxBacklog;
    private readonly ConcurrentQueue<(UInt128 Fingerprint, long TimeTicks)[]> _backlog = new();
    private long _backlogIds;
    private int _degraded;

    /// <summary>Uses <paramref name="redis"/>; keys start with <paramref name="prefix"/> (e.g. "metering:topic:").</summary>
    public RedisDedup(IConnectionMultiplexer redis, string prefix, TimeSpan horizon, int maxBacklog = 5_000_000)
    {
        ArgumentNullException.ThrowIfNull(redis);
        _db = redis.GetDatabase();
        _prefix = prefix + "d:";
        _horizon = horizon;
        _maxBacklog = maxBacklog;
    }

    /// <inheritdoc />
    public bool Degraded => Volatile.Read(ref _degraded) != 0;

    /// <summary>Lookups answered (records checked) since start.</summary>
    public long Lookups => Interlocked.Read(ref _lookups);

    private long _lookups;

    /// <summary>Ids marked since start.</summary>
    public long Marked => Interlocked.Read(ref _marked);

    private long _marked;

    /// <summary>Ids dropped from the backlog because it was full while Redis was down (they stay in PostgreSQL's horizon).</summary>
    public long BacklogDropped => Interlocked.Read(ref _backlogDropped);

    private long _backlogDropped;

    /// <inheritdoc />
    /// <remarks>Blocks the calling thread until Redis answers: for the engine's poll thread only. Request threads use <see cref="TryFindSeenAsync"/>.</remarks>
    public bool TryFindSeen(ReadOnlySpan<(UInt128 Fingerprint, long TimeTicks)> ids, Span<bool> seen)
    {
        seen[..ids.Length].Clear();
        if (ids.Length == 0)
        {
            return true;
        }

        try
        {
            foreach (var (indexes, answer) in Ask(ids))
            {
                var found = answer.GetAwaiter().GetResult(); // the engine thread is synchronous; all asks are already pipelined
                for (var j = 0; j < found.Length; j++)
                {
                    seen[indexes[j]] = found[j];
                }
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            seen[..ids.Length].Clear();
            Volatile.Write(ref _degraded, 1);
            return false;
        }

        Answered(ids.Length);
        return true;
    }

    /// <summary>
    /// The lookup of <see cref="TryFindSeen"/> without blocking a thread: one flag per id, or null when Redis did not
    /// answer within <paramref name="timeout"/> (or failed), which sets <see cref="Degraded"/> as a failure does. A slow
    /// Redis therefore costs a request at most the timeout, and the ids count as not seen (the engine's dedup stays
    /// the final guard).
    /// </summary>
    public async Task<bool[]?> TryFindSeenAsync((UInt128 Fingerprint, long TimeTicks)[] ids, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var seen = new bool[ids.Length];
        if (ids.Length == 0)
        {
            return seen;
        }

        Task<bool[][]> all;
        List<(List<int> Indexes, Task<bool[]> Answer)> asks;
        try
        {
            asks = Ask(ids);
            all = Task.WhenAll(asks.Select(a => a.Answer));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Volatile.Write(ref _degraded, 1);
            return null;
        }

        try
        {
            await all.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // The abandoned asks may still fail later: observe them, so nothing surfaces as an unobserved exception.
            _ = all.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            Volatile.Write(ref _degraded, 1);
            return null;
        }

        foreach (var (indexes, answer) in asks)
        {
            var found = answer.Result; // completed: awaited above
            for (var j = 0; j < found.Length; j++)
            {
                seen[indexes[j]] = found[j];
            }
        }

        Answered(ids.Length);
        return seen;
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

    /// <summary>Marks and awaits (tests, benchmarks, the HTTP edge); failures go to the backlog and set <see cref="Degraded"/>.</summary>
    public async Task MarkAsync((UInt128 Fingerprint, long TimeTicks)[] ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        try
        {
            var calls = new List<Task>();
            foreach (var minute in ids.GroupBy(i => i.TimeTicks / TimeSpan.TicksPerMinute))
            {
                var key = Key(minute.Key);
                calls.Add(_db.SetAddAsync(key, [.. minute.Select(i => Member(i.Fingerprint))]));
                calls.Add(_db.KeyExpireAsync(key, _horizon));
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

    // One SMISMEMBER per event minute the ids span, all sent before any answer is awaited (pipelined).
    private List<(List<int> Indexes, Task<bool[]> Answer)> Ask(ReadOnlySpan<(UInt128 Fingerprint, long TimeTicks)> ids)
    {
        var byMinute = new Dictionary<long, List<int>>();
        for (var i = 0; i < ids.Length; i++)
        {
            var minute = ids[i].TimeTicks / TimeSpan.TicksPerMinute;
            if (!byMinute.TryGetValue(minute, out var indexes))
            {
                byMinute[minute] = indexes = [];
            }

            indexes.Add(i);
        }

        var asks = new List<(List<int> Indexes, Task<bool[]> Answer)>(byMinute.Count);
        foreach (var (minute, indexes) in byMinute)
        {
            var members = new RedisValue[indexes.Count];
            for (var j = 0; j < members.Length; j++)
            {
                members[j] = Member(ids[indexes[j]].Fingerprint);
            }

            asks.Add((indexes, _db.SetContainsAsync(Key(minute), members)));
        }

        return asks;
    }

    private void Answered(int ids)
    {
        Interlocked.Add(ref _lookups, ids);
        if (Degraded)
        {
            Volatile.Write(ref _degraded, 0);
            ReplayBacklog();
        }
    }

    private RedisKey Key(long minute) => _prefix + minute.ToString(CultureInfo.InvariantCulture);

    private static RedisValue Member(UInt128 fingerprint)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, fingerprint);
        return bytes;
    }
}
