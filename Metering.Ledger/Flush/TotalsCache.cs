using Metering.Rating.PeriodTotals;

namespace Metering.Ledger.Flush;

/// <summary>
/// The open totals this engine's flushes last wrote, as they were committed: a flush rates on them instead of reading
/// them back <c>FOR UPDATE</c> (docs/ledger.md, "One transaction per flush"). It is a hint, never the truth: every
/// write of a cached total is conditional on the row still holding the state the flush rated on
/// (<see cref="StaleTotalsException"/> otherwise, and the flush is rated again from PostgreSQL), so another writer
/// (a second engine after a rebalance, an operator's edit) can never be overwritten. Forgotten on every rebalance,
/// rewind and data fault, and when it would hold more than <see cref="MaxEntries"/>. Thread-safe.
/// Memory: about 200 bytes per total beyond the key strings the engine already holds (measured: 201 B per total over
/// 500,000 totals, <c>GC.GetTotalMemory</c>), so the default bound of 500,000 totals is about 100 MB.
/// </summary>
public sealed class TotalsCache(int maxEntries = 500_000)
{
    private readonly Lock _lock = new();
    private Dictionary<PeriodTotalKey, StoredPeriodTotal> _totals = [];

    /// <summary>Most totals held; past it the cache starts over (cheaper than an eviction order, and rare).</summary>
    public int MaxEntries { get; } = maxEntries;

    /// <summary>Totals held now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _totals.Count;
            }
        }
    }

    /// <summary>The cached state of each of <paramref name="keys"/> that has one.</summary>
    public Dictionary<PeriodTotalKey, StoredPeriodTotal> Find(IEnumerable<PeriodTotalKey> keys)
    {
        var found = new Dictionary<PeriodTotalKey, StoredPeriodTotal>();
        lock (_lock)
        {
            foreach (var key in keys)
            {
                if (_totals.TryGetValue(key, out var total))
                {
                    found[key] = total;
                }
            }
        }

        return found;
    }

    /// <summary>Records the totals a flush committed (call only after its commit).</summary>
    public void Committed(IReadOnlyList<PeriodTotalUpdate> totals)
    {
        lock (_lock)
        {
            if (_totals.Count + totals.Count > MaxEntries)
            {
                _totals = [];
            }

            foreach (var t in totals)
            {
                _totals[t.Key] = new StoredPeriodTotal(t.QuantityAfter, t.CountAfter, t.AmountAfter, t.Currency, t.PriceBook, t.PriceBookVersion, t.PriceBookHash);
            }
        }
    }

    /// <summary>Forgets everything: the next flush reads every total it touches from PostgreSQL.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _totals = [];
        }
    }
}

/// <summary>A cached total no longer held what the flush rated on (another writer moved it): the flush is rated again from PostgreSQL.</summary>
public sealed class StaleTotalsException(string message) : Exception(message);
