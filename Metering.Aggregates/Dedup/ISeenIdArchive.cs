namespace Metering.Aggregates.Dedup;

/// <summary>
/// The durable store of every id counted within the lateness window (PostgreSQL's <c>seen_id_blocks</c> in
/// production), consulted by <see cref="LateDedup"/> for records older than the in-memory horizon. It holds exactly
/// the ids whose flush committed: an id is written in the same transaction as the usage it was counted in.
/// </summary>
public interface ISeenIdArchive
{
    /// <summary>
    /// Sets <c>seen[i]</c> when a committed flush counted <c>ids[i]</c>'s fingerprint on the event day of
    /// <c>ids[i].TimeTicks</c> (a duplicate carries the same event time, so the same day), and
    /// <c>firstDigests[i]</c> to the payload digest it was counted with. Blocks the caller; infrastructure faults are
    /// retried inside and thrown when they persist (the answer must be exact, never a guess).
    /// </summary>
    void FindSeen(ReadOnlySpan<SeenId> ids, Span<bool> seen, Span<ulong> firstDigests);
}
