using Metering.Aggregates.Dedup;

namespace Metering.Ledger.SeenIds;

/// <summary>
/// A dedup horizon shared by every engine instance (Redis in production), consulted after the engine's own horizon.
/// <para>
/// The contract that keeps it from ever turning a retry into a silent drop: an id is marked only AFTER the flush
/// that counted it committed (<see cref="MarkAccepted"/>), never claimed before. A crash between the commit and the
/// mark leaves the id unmarked in the shared store, but it is in PostgreSQL's persisted horizon, which every engine
/// of the group reloads on assignment. The price is a narrow window: the same id delivered to two instances within
/// one flush interval can be accepted by both (documented in docs/ledger.md).
/// </para>
/// <para>
/// Each mark keeps the payload digest of the record counted (<see cref="PayloadDigest"/>), so a lookup tells a
/// duplicate (same digest) from a conflict (same id, another payload) by the one rule of
/// <see cref="PayloadDigest.Conflicts"/>.
/// </para>
/// </summary>
public interface ISharedDedup
{
    /// <summary>True while the store is unreachable: lookups answer "not seen" and marks are queued for later.</summary>
    bool Degraded { get; }

    /// <summary>
    /// Sets <c>verdicts[i]</c> for each id: <see cref="DedupVerdict.New"/> when no instance durably accepted it within
    /// the horizon, <see cref="DedupVerdict.Duplicate"/> when one did with the same payload digest (or an unknown
    /// one), <see cref="DedupVerdict.Conflict"/> when one did with another digest. Returns false (and leaves
    /// <paramref name="verdicts"/> all New) when the store cannot answer in time: the engine then relies on its own
    /// horizon only, and says so in its metrics. <paramref name="firstDigests"/>[i] is the digest the store holds for
    /// a seen id (<see cref="PayloadDigest.None"/> when not seen or unknown): the engine's own horizon takes it, so a
    /// later copy of the first payload is a duplicate there too, not a conflict with the refused one.
    /// </summary>
    bool TryFindSeen(ReadOnlySpan<SeenId> ids, Span<DedupVerdict> verdicts, Span<ulong> firstDigests);

    /// <summary>Marks ids whose records were durably counted; never blocks the caller, retries while degraded.</summary>
    void MarkAccepted(IReadOnlyList<SeenId> ids);
}
