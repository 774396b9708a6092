namespace Metering.Ledger.Totals;

/// <summary>
/// Live per-(account, SKU, period) counters (Redis in production) that edge services read in a millisecond. The
/// engine publishes the totals a flush moved after the flush committed; PostgreSQL stays the truth, so the counters
/// can always be rebuilt from it.
/// </summary>
public interface ILiveCounters
{
    /// <summary>Publishes the committed totals; never blocks the caller; a failure marks the counters for a rebuild.</summary>
    void Publish(IReadOnlyList<TotalChange> committed);
}
