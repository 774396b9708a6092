using Metering.Aggregates.Memory;

namespace Metering.Aggregates.Dedup;

/// <summary>
/// Remembers the 128-bit fingerprints of record ids seen within a horizon of event time (default 24 h) and tells
/// new ids from duplicates. The horizon trails the newest event time seen (the watermark); a record older than
/// <c>watermark - horizon</c> is <see cref="DedupVerdict.Expired"/>.
/// Next to each fingerprint it keeps the payload digest of the record first accepted with it
/// (<see cref="PayloadDigest"/>): the same id again with the same digest is a <see cref="DedupVerdict.Duplicate"/>,
/// with another digest a <see cref="DedupVerdict.Conflict"/>.
/// Memory is bounded: an open-addressing table of (fingerprint, digest, time bucket), 28 bytes per slot, grown up to
/// <see cref="MaxEntries"/>; buckets are 1/1440 of the horizon (1 minute of a 24 h horizon), and expired ones are
/// swept every 1/24 of the horizon as the watermark advances. When full, the oldest buckets are evicted early, as
/// few as bring the table to half full (counted in <see cref="EarlyEvictions"/>), and the effective horizon
/// shrinks, so a record from the evicted span is reported expired instead of being double counted (the engine then
/// judges it, as every record older than the horizon within the lateness window, with <see cref="LateDedup"/>). Not thread-safe: one instance per
/// ordered stream (a file, a Kafka partition); fingerprints are tenant-scoped, so partitioning by account is exact.
/// </summary>
public sealed class DedupHorizon
{
    // Fine buckets let an early eviction shorten the horizon by a sliver instead of an hour; sweeps of expired
    // buckets still run only every 1/24 of the horizon, since each is a full pass over the table.
    private const int BucketsPerHorizon = 1440;
    private const int SweepsPerHorizon = 24;
    private static readonly long BucketEpochTicks = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;
    private readonly long _horizonTicks;
    private readonly long _bucketTicks;
    /// <summary>One remembered id: fingerprint, payload digest and event-time bucket in one 28-byte entry (one cache miss per probe).</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential, Pack = 4)]
    private struct Entry
    {
        public UInt128 Key;
        public ulong Digest;
        public int Bucket;
    }

    private Entry[] _entries;
    private int _count;
    private long _watermarkTicks = long.MinValue;
    private long _oldestLiveBucket = long.MinValue; // buckets below this were swept (or evicted)
    private long _evictedBelowTicks = long.MinValue; // early evictions moved the horizon start up to here
    private long _lastSweepBucket = long.MinValue;

    /// <summary>Creates a horizon of <paramref name="horizon"/> holding at most <paramref name="maxEntries"/> ids.</summary>
    public DedupHorizon(TimeSpan horizon, int maxEntries = 16_000_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(horizon, TimeSpan.FromHours(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 16);
        _horizonTicks = horizon.Ticks;
        _bucketTicks = horizon.Ticks / BucketsPerHorizon;
        MaxEntries = maxEntries;
        _entries = new Entry[1024];
    }

    /// <summary>The configured horizon.</summary>
    public TimeSpan Horizon => TimeSpan.FromTicks(_horizonTicks);

    /// <summary>Most fingerprints remembered at once.</summary>
    public int MaxEntries { get; }

    /// <summary>Fingerprints remembered now.</summary>
    public int Count => _count;

    /// <summary>Bytes held by the table (reported by the CLI and metrics).</summary>
    public long MemoryBytes => (long)_entries.Length * EntryBytes;

    /// <summary>Bytes per table slot: 16 (fingerprint) + 8 (payload digest) + 4 (time bucket).</summary>
    public const int EntryBytes = 28;

    /// <summary>Buckets evicted before their time because <see cref="MaxEntries"/> was reached.</summary>
    public long EarlyEvictions { get; private set; }

    /// <summary>Newest event time seen (UTC ticks), or <see cref="long.MinValue"/>.</summary>
    public long WatermarkTicks => _watermarkTicks;

    private int BucketOf(long ticks) => (int)((ticks - BucketEpochTicks) / _bucketTicks);

    /// <summary>
    /// Hints the CPU to load the table line <paramref name="fingerprint"/> probes first. Called a few records ahead
    /// of <see cref="Check"/>, it overlaps the cache misses of a large table with useful work.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public unsafe void Prefetch(UInt128 fingerprint)
    {
        var entries = _entries;
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(System.Runtime.CompilerServices.Unsafe.AsPointer(ref entries[(int)(ulong)fingerprint & (entries.Length - 1)]));
        }
    }

    /// <summary>
    /// Checks <paramref name="fingerprint"/> of a record with payload digest <paramref name="digest"/> and event time
    /// <paramref name="timeTicks"/>, and remembers it if new. An id remembered without a digest
    /// (<see cref="PayloadDigest.None"/>, from an old persisted blob) answers <see cref="DedupVerdict.Duplicate"/>.
    /// </summary>
    public DedupVerdict Check(UInt128 fingerprint, ulong digest, long timeTicks)
    {
        if (timeTicks > _watermarkTicks)
        {
            AdvanceWatermark(timeTicks);
        }

        if (timeTicks < _watermarkTicks - _horizonTicks || timeTicks < _evictedBelowTicks)
        {
            return DedupVerdict.Expired;
        }

        if (fingerprint == UInt128.Zero)
        {
            fingerprint = UInt128.One; // 0 marks an empty slot; a 2^-128 merge, documented
        }

        var entries = _entries;
        var mask = entries.Length - 1;
        for (var i = (int)(ulong)fingerprint & mask; ; i = (i + 1) & mask)
        {
            ref var entry = ref entries[i];
            if (entry.Key == fingerprint)
            {
                if (entry.Bucket >= _oldestLiveBucket)
                {
                    // The first accepted payload stays: a conflict never replaces it.
                    return PayloadDigest.Conflicts(entry.Digest, digest) ? DedupVerdict.Conflict : DedupVerdict.Duplicate;
                }

                // The id was seen, but before the horizon (not yet swept): a new record that reuses it.
                entry.Bucket = BucketOf(timeTicks);
                entry.Digest = digest;
                return DedupVerdict.New;
            }

            if (entry.Key == UInt128.Zero)
            {
                entry.Key = fingerprint;
                entry.Digest = digest;
                entry.Bucket = BucketOf(timeTicks);
                if (++_count * 4 > entries.Length * 3)
                {
                    MakeRoom();
                }

                return DedupVerdict.New;
            }
        }
    }

    /// <summary>
    /// Finds <paramref name="fingerprint"/> among the live ids whatever their event time, without remembering
    /// anything: a late record (<see cref="DedupVerdict.Expired"/> here) whose id the horizon still holds, under
    /// another event time, is judged against it (<see cref="LateDedup"/>).
    /// </summary>
    public bool TryGetDigest(UInt128 fingerprint, out ulong digest)
    {
        if (fingerprint == UInt128.Zero)
        {
            fingerprint = UInt128.One;
        }

        var entries = _entries;
        var mask = entries.Length - 1;
        for (var i = (int)(ulong)fingerprint & mask; entries[i].Key != UInt128.Zero; i = (i + 1) & mask)
        {
            if (entries[i].Key == fingerprint && entries[i].Bucket >= _oldestLiveBucket)
            {
                digest = entries[i].Digest;
                return true;
            }
        }

        digest = PayloadDigest.None;
        return false;
    }

    /// <summary>
    /// Replaces the digest remembered for <paramref name="fingerprint"/> (no-op when it is not remembered): the shared
    /// store knew the id with <paramref name="digest"/> first, so that payload, not this instance's copy, is the one
    /// later records are judged against.
    /// </summary>
    public void Amend(UInt128 fingerprint, ulong digest)
    {
        if (fingerprint == UInt128.Zero)
        {
            fingerprint = UInt128.One;
        }

        var entries = _entries;
        var mask = entries.Length - 1;
        for (var i = (int)(ulong)fingerprint & mask; entries[i].Key != UInt128.Zero; i = (i + 1) & mask)
        {
            if (entries[i].Key == fingerprint)
            {
                entries[i].Digest = digest;
                return;
            }
        }
    }

    private void AdvanceWatermark(long timeTicks)
    {
        _watermarkTicks = timeTicks;
        var cutoffBucket = BucketOf(Math.Max(timeTicks - _horizonTicks, BucketEpochTicks));
        if (cutoffBucket > _oldestLiveBucket)
        {
            _oldestLiveBucket = cutoffBucket;
            if (_lastSweepBucket == long.MinValue)
            {
                _lastSweepBucket = cutoffBucket;
            }
            else if (cutoffBucket - _lastSweepBucket >= BucketsPerHorizon / SweepsPerHorizon && _count > 0)
            {
                _lastSweepBucket = cutoffBucket;
                Rebuild(_entries.Length, cutoffBucket);
            }
        }
    }

    private void MakeRoom()
    {
        var maxCapacity = (long)MaxEntries * 4 / 3;
        if (_entries.Length * 2L <= Math.Max(maxCapacity, 1024))
        {
            // Grow fourfold while small relative to the limit: fewer full rehashes on a fast-growing stream.
            var factor = _entries.Length * 8L <= maxCapacity ? 4 : 2;
            Rebuild(_entries.Length * factor, long.MinValue);
            return;
        }

        // Full: evict the oldest buckets, as few as bring the table to half full, in one pass plus one rebuild.
        // Live buckets span at most the horizon plus the future skew, so the histogram is small.
        var minBucket = int.MaxValue;
        var maxBucket = int.MinValue;
        foreach (ref readonly var e in _entries.AsSpan())
        {
            if (e.Key != UInt128.Zero)
            {
                minBucket = Math.Min(minBucket, e.Bucket);
                maxBucket = Math.Max(maxBucket, e.Bucket);
            }
        }

        var histogram = new long[(long)maxBucket - minBucket + 1];
        foreach (ref readonly var e in _entries.AsSpan())
        {
            if (e.Key != UInt128.Zero)
            {
                histogram[e.Bucket - minBucket]++;
            }
        }

        long removed = 0;
        var target = _count - (_entries.Length / 2);
        var keepFrom = minBucket;
        for (var b = 0; b < histogram.Length && removed < target; b++)
        {
            removed += histogram[b];
            keepFrom = minBucket + b + 1;
        }

        EarlyEvictions++;
        _evictedBelowTicks = Math.Max(_evictedBelowTicks, BucketEpochTicks + (keepFrom * _bucketTicks));
        _oldestLiveBucket = Math.Max(_oldestLiveBucket, keepFrom);
        Rebuild(_entries.Length, keepFrom);
    }

    private void Rebuild(int capacity, long keepFromBucket)
    {
        var old = _entries;
        var fresh = HugePageArray.Allocate<Entry>(capacity);
        _count = 0;
        var mask = capacity - 1;
        foreach (ref readonly var e in old.AsSpan())
        {
            if (e.Key == UInt128.Zero || e.Bucket < keepFromBucket)
            {
                continue;
            }

            var i = (int)(ulong)e.Key & mask;
            while (fresh[i].Key != UInt128.Zero)
            {
                i = (i + 1) & mask;
            }

            fresh[i] = e;
            _count++;
        }

        _entries = fresh;
    }
}
