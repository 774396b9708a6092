using System.Runtime.InteropServices;
using Metering.Aggregates.Admission;

namespace Metering.Aggregates.Dedup;

/// <summary>
/// Exact dedup of late records: those older than the in-memory <see cref="DedupHorizon"/> (it answered
/// <see cref="DedupVerdict.Expired"/>) but within the lateness window (<see cref="LatenessRule"/>, default 35 days)
/// behind the newest event time. Their ids are looked up in the durable <see cref="ISeenIdArchive"/>, which holds
/// every committed id, and in memory among the ids counted but not yet known to be committed: those of the open
/// batch, of the flush in flight and of the last committed flush (<see cref="FlushStarted"/>, <see cref="Committed"/>;
/// the last one because a flush the engine starts mid-chunk, at the key limit, commits before it applies records
/// judged earlier). Those uncommitted ids include the ones the horizon counted and has since dropped (its watermark
/// jumped, or it was full), so no id is ever in neither place.
/// <para>
/// Memory: the uncommitted ids are indexed (about 36 bytes each) lazily, only once a late record arrives, from the
/// batches' own lists of new ids; a stream without late records pays nothing. Cold path: one archive call per chunk
/// with late records. Not thread-safe: one instance per engine, next to its horizon.
/// </para>
/// </summary>
public sealed class LateDedup
{
    private readonly ISeenIdArchive _archive;
    private readonly IReadOnlyList<SeenId> _openIds;
    private readonly long _latenessTicks;
    private Generation _open;
    private Generation _inFlight = new(null);
    private Generation _committed = new(null);

    /// <summary>
    /// Creates the late dedup of <paramref name="lateness"/> over <paramref name="archive"/>; <paramref name="openIds"/>
    /// is the engine's live list of the ids counted in the open batch (read, never changed here).
    /// </summary>
    public LateDedup(ISeenIdArchive archive, TimeSpan lateness, IReadOnlyList<SeenId> openIds)
    {
        ArgumentNullException.ThrowIfNull(archive);
        ArgumentNullException.ThrowIfNull(openIds);
        ArgumentOutOfRangeException.ThrowIfLessThan(lateness, TimeSpan.FromHours(1));
        _archive = archive;
        _openIds = openIds;
        _latenessTicks = lateness.Ticks;
        _open = new Generation(openIds);
        Lateness = lateness;
    }

    /// <summary>The lateness window.</summary>
    public TimeSpan Lateness { get; }

    /// <summary>Ids sent to the archive (distinct per chunk).</summary>
    public long ArchiveLookups { get; private set; }

    /// <summary>Late records the archive knew (duplicates or conflicts of records committed earlier).</summary>
    public long ArchiveHits { get; private set; }

    /// <summary>Uncommitted ids indexed in memory now.</summary>
    public int Indexed => _open.Ids.Count + _inFlight.Ids.Count + _committed.Ids.Count;

    /// <summary>True when a record of <paramref name="timeTicks"/> is within the window behind <paramref name="watermarkTicks"/> (the newest event time).</summary>
    public bool Admits(long timeTicks, long watermarkTicks) => watermarkTicks == long.MinValue || timeTicks >= watermarkTicks - _latenessTicks;

    /// <summary>
    /// Judges <paramref name="ids"/> (late records admitted by <see cref="Admits"/>, in stream order) into
    /// <paramref name="verdicts"/>: <see cref="DedupVerdict.New"/> (now remembered as counted),
    /// <see cref="DedupVerdict.Duplicate"/> or <see cref="DedupVerdict.Conflict"/> against the first record counted
    /// with the id (committed, in flight, open, or earlier in <paramref name="ids"/>). One archive call for the ids
    /// memory does not know. <paramref name="pendingNew"/> are the ids the horizon took for new in the same chunk,
    /// not yet in the open batch's list (the engine applies a chunk after judging it): a late copy of one of them,
    /// whose first copy the horizon dropped at once because the watermark jumped, is still not counted twice.
    /// </summary>
    public void Judge(ReadOnlySpan<SeenId> ids, Span<DedupVerdict> verdicts, ReadOnlySpan<SeenId> pendingNew)
    {
        if (ids.Length == 0)
        {
            return;
        }

        foreach (var id in pendingNew)
        {
            _open.Ids.TryAdd(id.Fingerprint, id.PayloadDigest);
        }

        _open.CatchUp();
        _inFlight.CatchUp();
        _committed.CatchUp();
        var lookup = new List<SeenId>(ids.Length);
        var lookupIndex = new Dictionary<UInt128, int>(ids.Length);
        foreach (var id in ids)
        {
            if (!Remembered(id.Fingerprint, out _) && lookupIndex.TryAdd(id.Fingerprint, lookup.Count))
            {
                lookup.Add(id);
            }
        }

        var seen = new bool[lookup.Count];
        var firstDigests = new ulong[lookup.Count];
        if (lookup.Count > 0)
        {
            _archive.FindSeen(CollectionsMarshal.AsSpan(lookup), seen, firstDigests);
            ArchiveLookups += lookup.Count;
        }

        for (var i = 0; i < ids.Length; i++)
        {
            var id = ids[i];
            if (Remembered(id.Fingerprint, out var first))
            {
                verdicts[i] = PayloadDigest.Conflicts(first, id.PayloadDigest) ? DedupVerdict.Conflict : DedupVerdict.Duplicate;
                continue;
            }

            var j = lookupIndex[id.Fingerprint];
            if (seen[j])
            {
                ArchiveHits++;
                // Remembered with the committed digest, so later copies in this batch are judged against it without a lookup.
                _open.Ids[id.Fingerprint] = firstDigests[j];
                verdicts[i] = PayloadDigest.Conflicts(firstDigests[j], id.PayloadDigest) ? DedupVerdict.Conflict : DedupVerdict.Duplicate;
                continue;
            }

            // The engine adds the id to the open batch's list when it applies the record; until then it is here.
            _open.Ids[id.Fingerprint] = id.PayloadDigest;
            verdicts[i] = DedupVerdict.New;
        }
    }

    private bool Remembered(UInt128 fingerprint, out ulong firstDigest) =>
        _open.Ids.TryGetValue(fingerprint, out firstDigest) || _inFlight.Ids.TryGetValue(fingerprint, out firstDigest) || _committed.Ids.TryGetValue(fingerprint, out firstDigest);

    /// <summary>
    /// The open batch was handed to a flush with <paramref name="batchIds"/>, the copy of its list of new ids: they stay
    /// known here until the flush after it commits.
    /// </summary>
    public void FlushStarted(IReadOnlyList<SeenId> batchIds)
    {
        ArgumentNullException.ThrowIfNull(batchIds);
        _open.Source = batchIds; // the same ids as the live list had, which the engine now clears
        if (_inFlight.Source is not null || _inFlight.Ids.Count > 0)
        {
            // The previous flush's outcome was not reported: keep its ids too (never forget an id not known committed).
            _inFlight.CatchUp();
            _open.CatchUp();
            foreach (var (key, digest) in _open.Ids)
            {
                _inFlight.Ids.TryAdd(key, digest);
            }

            _inFlight.Source = null;
        }
        else
        {
            _inFlight = _open;
        }

        _open = new Generation(_openIds);
    }

    /// <summary>The flush in flight committed: the archive now answers for the ids of the flush before it.</summary>
    public void Committed()
    {
        _committed = _inFlight;
        _inFlight = new Generation(null);
    }

    /// <summary>Everything unflushed was discarded (fence, data fault, lost partitions, restart): forget the uncommitted ids.</summary>
    public void Reset()
    {
        _open = new Generation(_openIds);
        _inFlight = new Generation(null);
        _committed = new Generation(null);
    }

    /// <summary>The ids of one batch: its list, indexed up to <see cref="Indexed"/> into <see cref="Ids"/> (fingerprint -> first digest).</summary>
    private sealed class Generation(IReadOnlyList<SeenId>? source)
    {
        public IReadOnlyList<SeenId>? Source { get; set; } = source;

        public int Indexed { get; private set; }

        public Dictionary<UInt128, ulong> Ids { get; } = [];

        public void CatchUp()
        {
            if (Source is not { } source)
            {
                return;
            }

            for (; Indexed < source.Count; Indexed++)
            {
                Ids.TryAdd(source[Indexed].Fingerprint, source[Indexed].PayloadDigest);
            }
        }
    }
}
