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
/// </summary>
public interface ISharedDedup
{
    /// <summary>True while the store is unreachable: lookups answer "not seen" and marks are queued for later.</summary>
    bool Degraded { get; }

    /// <summary>
    /// Sets <c>seen[i]</c> for each (fingerprint, event time) some instance durably accepted within the horizon. Returns false
    /// (and leaves <paramref name="seen"/> all false) when the store cannot answer in time: the engine then relies on
    /// its own horizon only, and says so in its metrics.
    /// </summary>
    bool TryFindSeen(ReadOnlySpan<(UInt128 Fingerprint, long TimeTicks)> ids, Span<bool> seen);

    /// <summary>Marks ids whose records were durably counted; never blocks the caller, retries while degraded.</summary>
    void MarkAccepted(IReadOnlyList<(UInt128 Fingerprint, long TimeTicks)> ids);
}
