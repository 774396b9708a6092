namespace Metering.Aggregates.Dedup;

/// <summary>
/// Remembers the 128-bit fingerprints of record ids seen within a horizon of event time (default 24 h) and tells
/// new ids from duplicates. The horizon trails the newest event time seen (the watermark); a record older than
/// <c>watermark - horizon</c> is <see cref="DedupVerdict.Expired"/>.
/// Memory is bounded: an open-addressing table of (fingerprint, time bucket) pairs, 20 bytes per slot, grown up to
/// <see cref="MaxEntries"/>; expired buckets are swept as the watermark advances. When full, the oldest bucket
/// is evicted early (counted in <see cref="EarlyEvictions"/>) and the effective horizon shrinks, so a record from
/// the evicted span is reported expired instead of being double counted. Not thread-safe: one instance per
/// ordered stream (a file, a Kafka partition); fingerprints are tenant-scoped, so partitioning by account is exact.
/// </summary>
public sealed class DedupHorizon
{
    private const int BucketsPerHorizon = 24;
    private readonly long _horizonTicks;
    private readonly long _bucketTicks;
    private UInt128[] _keys;
    private int[] _buckets;
    private int _count;
    private long _watermarkTicks = long.MinValue;
    private long _oldestLiveBucket = long.MinValue; // buckets below this were swept (or evicted)
    private long _evictedBelowTicks = long.MinValue; // early evictions moved the horizon start up to here

    /// <summary>Creates a horizon of <paramref name="horizon"/> holding at most <paramref name="maxEntries"/> ids.</summary>
    public DedupHorizon(TimeSpan horizon, int maxEntries = 16_000_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(horizon, TimeSpan.FromSeconds(BucketsPerHorizon));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 16);
        _horizonTicks = horizon.Ticks;
        _bucketTicks = horizon.Ticks / BucketsPerHorizon;
        MaxEntries = maxEntries;
        _keys = new UInt128[1024];
        _buckets = new int[1024];
    }

    /// <summary>The configured horizon.</summary>
    public TimeSpan Horizon => TimeSpan.FromTicks(_horizonTicks);

    /// <summary>Most fingerprints remembered at once.</summary>
    public int MaxEntries { get; }

    /// <summary>Fingerprints remembered now.</summary>
    public int Count => _count;

    /// <summary>Bytes held by the table (reported by the CLI and metrics).</summary>
    public long MemoryBytes => (long)_keys.Length * 20;

    /// <summary>Buckets evicted before their time because <see cref="MaxEntries"/> was reached.</summary>
    public long EarlyEvictions { get; private set; }

    /// <summary>Newest event time seen (UTC ticks), or <see cref="long.MinValue"/>.</summary>
    public long WatermarkTicks => _watermarkTicks;

    /// <summary>Checks <paramref name="fingerprint"/> of a record with event time <paramref name="timeTicks"/> and remembers it if new.</summary>
    public DedupVerdict Check(UInt128 fingerprint, long timeTicks)
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

        var mask = _keys.Length - 1;
        for (var i = (int)(ulong)fingerprint & mask; ; i = (i + 1) & mask)
        {
            var k = _keys[i];
            if (k == fingerprint)
            {
                return DedupVerdict.Duplicate;
            }

            if (k == UInt128.Zero)
            {
                _keys[i] = fingerprint;
                _buckets[i] = (int)(timeTicks / _bucketTicks);
                if (++_count * 4 > _keys.Length * 3)
                {
                    MakeRoom();
                }

                return DedupVerdict.New;
            }
        }
    }

    private void AdvanceWatermark(long timeTicks)
    {
        _watermarkTicks = timeTicks;
        var cutoffBucket = (timeTicks - _horizonTicks) / _bucketTicks;
        if (cutoffBucket > _oldestLiveBucket)
        {
            var previous = _oldestLiveBucket;
            _oldestLiveBucket = cutoffBucket;
            if (previous != long.MinValue && _count > 0)
            {
                Rebuild(_keys.Length, cutoffBucket);
            }
        }
    }

    private void MakeRoom()
    {
        var maxCapacity = (long)MaxEntries * 4 / 3;
        if (_keys.Length * 2L <= Math.Max(maxCapacity, 1024))
        {
            Rebuild(_keys.Length * 2, long.MinValue);
            return;
        }

        // Full: evict the oldest bucket(s) until a quarter of the table is free.
        while (_count * 4 > _keys.Length * 3)
        {
            var oldest = int.MaxValue;
            for (var i = 0; i < _keys.Length; i++)
            {
                if (_keys[i] != UInt128.Zero && _buckets[i] < oldest)
                {
                    oldest = _buckets[i];
                }
            }

            EarlyEvictions++;
            _evictedBelowTicks = Math.Max(_evictedBelowTicks, (oldest + 1L) * _bucketTicks);
            _oldestLiveBucket = Math.Max(_oldestLiveBucket, oldest + 1L);
            Rebuild(_keys.Length, oldest + 1L);
        }
    }

    private void Rebuild(int capacity, long keepFromBucket)
    {
        var oldKeys = _keys;
        var oldBuckets = _buckets;
        _keys = new UInt128[capacity];
        _buckets = new int[capacity];
        _count = 0;
        var mask = capacity - 1;
        for (var j = 0; j < oldKeys.Length; j++)
        {
            var k = oldKeys[j];
            if (k == UInt128.Zero || oldBuckets[j] < keepFromBucket)
            {
                continue;
            }

            var i = (int)(ulong)k & mask;
            while (_keys[i] != UInt128.Zero)
            {
                i = (i + 1) & mask;
            }

            _keys[i] = k;
            _buckets[i] = oldBuckets[j];
            _count++;
        }
    }
}
