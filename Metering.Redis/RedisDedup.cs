using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using Metering.Aggregates.Dedup;
using Metering.Ledger.SeenIds;
using StackExchange.Redis;

namespace Metering.Redis;

/// <summary>
/// The shared dedup horizon in Redis. Accepted ids are fields of one Redis hash per minute of event time,
/// <c>{prefix}p:{minute}</c>: the field is the record's 16-byte tenant-scoped fingerprint, the value the 8-byte payload
/// digest of the record counted (<see cref="PayloadDigest"/>, big-endian), so a lookup tells a duplicate from a
/// conflict by <see cref="PayloadDigest.Conflicts"/>; a hash expires one dedup horizon after its last mark. A
/// duplicate is the same record again, so it has the same event time and lands in the same minute's hash: a lookup
/// is one <c>HMGET</c> per minute a chunk of records spans (usually one or two), a mark is one <c>HSET</c> +
/// <c>EXPIRE</c> per minute, after the flush that counted the records committed. Compared with a key per id this
/// costs a command per minute instead of per id, and less memory per id.
/// Before digests the ids were members of sets, <c>{prefix}d:{minute}</c>: with <c>readLegacySets</c> a lookup also
/// asks those (one <c>SMISMEMBER</c> per minute, in the same pipeline) and a legacy member is a duplicate, so for one
/// horizon after an upgrade no id accepted before it is forgotten; nothing writes them any more.
/// Redis down: lookups answer "not seen" (the engine's own horizon, rebuilt from PostgreSQL, still applies), marks
/// wait in a bounded backlog and are replayed when Redis is back; <see cref="Degraded"/> says so.
/// </summary>
public sealed class RedisDedup : ISharedDedup
{
    private readonly IDatabase _db;
    private readonly string _prefix;
    private readonly string _legacyPrefix;
    private readonly bool _readLegacySets;
    private readonly TimeSpan _horizon;
    private readonly int _maxBacklog;
    private readonly ConcurrentQueue<SeenId[]> _backlog = new();
    private long _backlogIds;
    private int _degraded;

    /// <summary>
    /// Uses <paramref name="redis"/>; keys start with <paramref name="prefix"/> (e.g. "metering:topic:"). With
    /// <paramref name="readLegacySets"/> lookups also read the sets written before payload digests (see above).
    /// </summary>
    public RedisDedup(IConnectionMultiplexer redis, string prefix, TimeSpan horizon, int maxBacklog = 5_000_000, bool readLegacySets = true)
    {
        ArgumentNullException.ThrowIfNull(redis);
        _db = redis.GetDatabase();
        _prefix = prefix + "p:";
        _legacyPrefix = prefix + "d:";
        _readLegacySets = readLegacySets;
        _horizon = horizon;
        _maxBacklog = maxBacklog;
        RedisDedupMetrics.Track(this);
    }

    /// <inheritdoc />
    public bool Degraded => Volatile.Read(ref _degraded) != 0;

    /// <summary>Lookups answered (records checked) since start.</summary>
    public long Lookups => Interlocked.Read(ref _lookups);

    private long _lookups;

    /// <summary>Ids marked since start.</summary>
    public long Marked => Interlocked.Read(ref _marked);

    private long _marked;

    /// <summary>Ids waiting in the backlog to be marked once Redis answers again.</summary>
    public long BacklogIds => Interlocked.Read(ref _backlogIds);

    /// <summary>Ids dropped from the backlog because it was full while Redis was down (they stay in PostgreSQL's horizon).</summary>
    public long BacklogDropped => Interlocked.Read(ref _backlogDropped);

    private long _backlogDropped;

    /// <inheritdoc />
    /// <remarks>Blocks the calling thread until Redis answers: for the engine's poll thread only. Request threads use <see cref="TryFindSeenAsync"/>.</remarks>
    public bool TryFindSeen(ReadOnlySpan<SeenId> ids, Span<DedupVerdict> verdicts, Span<ulong> firstDigests)
    {
        verdicts[..ids.Length].Clear();
        firstDigests[..ids.Length].Clear();
        if (ids.Length == 0)
        {
            return true;
        }

        try
        {
            foreach (var ask in Ask(ids))
            {
                // The engine thread is synchronous; all asks are already pipelined.
                Judge(ids, ask, ask.Digests.GetAwaiter().GetResult(), ask.Legacy?.GetAwaiter().GetResult(), verdicts, firstDigests);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            verdicts[..ids.Length].Clear();
            firstDigests[..ids.Length].Clear();
            Volatile.Write(ref _degraded, 1);
            return false;
        }

        Answered(ids.Length);
        return true;
    }

    /// <summary>
    /// The lookup of <see cref="TryFindSeen"/> without blocking a thread: one verdict per id (New, Duplicate or
    /// Conflict), or null when Redis did not answer within <paramref name="timeout"/> (or failed), which sets
    /// <see cref="Degraded"/> as a failure does. A slow Redis therefore costs a request at most the timeout, and the
    /// ids count as not seen (the engine's dedup stays the final guard).
    /// </summary>
    public async Task<DedupVerdict[]?> TryFindSeenAsync(SeenId[] ids, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var verdicts = new DedupVerdict[ids.Length];
        if (ids.Length == 0)
        {
            return verdicts;
        }

        Task all;
        List<MinuteAsk> asks;
        try
        {
            asks = Ask(ids);
            var tasks = new List<Task>(asks.Count * 2);
            foreach (var ask in asks)
            {
                tasks.Add(ask.Digests);
                if (ask.Legacy is not null)
                {
                    tasks.Add(ask.Legacy);
                }
            }

            all = Task.WhenAll(tasks);
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

        foreach (var ask in asks)
        {
            Judge(ids, ask, ask.Digests.Result, ask.Legacy?.Result, verdicts, new ulong[ids.Length]); // completed: awaited above
        }

        Answered(ids.Length);
        return verdicts;
    }

    /// <inheritdoc />
    public void MarkAccepted(IReadOnlyList<SeenId> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count > 0)
        {
            _ = MarkAsync([.. ids]);
        }
    }

    /// <summary>Marks and awaits (tests, benchmarks, the HTTP edge); failures go to the backlog and set <see cref="Degraded"/>.</summary>
    public async Task MarkAsync(SeenId[] ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        try
        {
            var calls = new List<Task>();
            foreach (var minute in ids.GroupBy(i => i.TimeTicks / TimeSpan.TicksPerMinute))
            {
                var key = Key(minute.Key);
                calls.Add(_db.HashSetAsync(key, [.. minute.Select(i => new HashEntry(Member(i.Fingerprint), Digest(i.PayloadDigest)))]));
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

    /// <summary>The asks of one event minute: the ids' indexes, the digests (null where not marked), the legacy set's answer.</summary>
    private sealed record MinuteAsk(List<int> Indexes, Task<RedisValue[]> Digests, Task<bool[]>? Legacy);

    // One HMGET (and with legacy sets one SMISMEMBER) per event minute the ids span, all sent before any answer is
    // awaited (pipelined).
    private List<MinuteAsk> Ask(ReadOnlySpan<SeenId> ids)
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

        var asks = new List<MinuteAsk>(byMinute.Count);
        foreach (var (minute, indexes) in byMinute)
        {
            var members = new RedisValue[indexes.Count];
            for (var j = 0; j < members.Length; j++)
            {
                members[j] = Member(ids[indexes[j]].Fingerprint);
            }

            var legacy = _readLegacySets ? _db.SetContainsAsync(LegacyKey(minute), members) : null;
            asks.Add(new MinuteAsk(indexes, _db.HashGetAsync(Key(minute), members), legacy));
        }

        return asks;
    }

    // The one rule (PayloadDigest.Conflicts): a marked id with another digest is a conflict; a marked id with the same
    // or no digest, or a legacy member, is a duplicate.
    private static void Judge(ReadOnlySpan<SeenId> ids, MinuteAsk ask, RedisValue[] digests, bool[]? legacy, Span<DedupVerdict> verdicts, Span<ulong> firstDigests)
    {
        for (var j = 0; j < digests.Length; j++)
        {
            var i = ask.Indexes[j];
            if (!digests[j].IsNull)
            {
                var first = ((byte[]?)digests[j]) is { Length: 8 } bytes ? BinaryPrimitives.ReadUInt64BigEndian(bytes) : PayloadDigest.None;
                verdicts[i] = PayloadDigest.Conflicts(first, ids[i].PayloadDigest) ? DedupVerdict.Conflict : DedupVerdict.Duplicate;
                firstDigests[i] = first;
            }
            else if (legacy is not null && legacy[j])
            {
                verdicts[i] = DedupVerdict.Duplicate;
            }
        }
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

    private RedisKey LegacyKey(long minute) => _legacyPrefix + minute.ToString(CultureInfo.InvariantCulture);

    private static RedisValue Digest(ulong digest)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, digest);
        return bytes;
    }

    private static RedisValue Member(UInt128 fingerprint)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, fingerprint);
        return bytes;
    }
}
