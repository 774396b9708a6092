using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace Metering.Web.HttpIngest;

/// <summary>
/// Bounds how many distinct SKUs one account, and one credential, may introduce per UTC day at this edge, so one
/// tenant cannot flood the engine's catalogs (and everyone's dashboards) with made-up SKUs. A record over a limit is
/// refused with its own receipt (<c>edge_cardinality_limit</c>), before anything is produced; a SKU the account (or
/// credential) already used today always passes. SKUs the price books know are exempt (they are bounded by the
/// books). Memory is bounded by <see cref="MaxTrackedPairs"/>: when full, the day's state starts afresh (counted in
/// <see cref="Resets"/>), which can only make the limit more lenient, never refuse a tenant for another's usage.
/// Thread-safe.
/// </summary>
public sealed class EdgeCardinalityLimits(int maxSkusPerAccount, int maxSkusPerCredential, IReadOnlySet<string>? knownSkus, TimeProvider clock, int maxTrackedPairs = 4_000_000)
{
    private readonly Lock _gate = new();
    private volatile IReadOnlySet<string>? _knownSkus = knownSkus;
    private readonly Dictionary<ulong, HashSet<ulong>> _byAccount = [];
    private readonly Dictionary<string, HashSet<ulong>> _byCredential = new(StringComparer.Ordinal);
    private long _day = long.MinValue;
    private int _tracked;

    /// <summary>Distinct SKUs one account may use per UTC day (0 = no limit).</summary>
    public int MaxSkusPerAccount { get; } = maxSkusPerAccount;

    /// <summary>Distinct SKUs one credential may use per UTC day (0 = no limit).</summary>
    public int MaxSkusPerCredential { get; } = maxSkusPerCredential;

    /// <summary>Most (account or credential, SKU) pairs remembered before the state starts afresh.</summary>
    public int MaxTrackedPairs { get; } = maxTrackedPairs;

    /// <summary>Times the state was dropped because it reached <see cref="MaxTrackedPairs"/>.</summary>
    public long Resets { get; private set; }

    /// <summary>
    /// Admits (and remembers) <paramref name="sku"/> for <paramref name="account"/> sent with <paramref name="credential"/>;
    /// returns null, or the receipt's detail when a limit refuses it.
    /// </summary>
    public string? Admit(string credential, string account, string sku)
    {
        if ((MaxSkusPerAccount == 0 && MaxSkusPerCredential == 0) || _knownSkus?.Contains(sku) == true)
        {
            return null;
        }

        // Hashes of the UTF-16 text: nothing is allocated per record (the keys never leave this process).
        var accountKey = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(account.AsSpan()));
        var skuKey = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(sku.AsSpan()));
        lock (_gate)
        {
            var day = clock.GetUtcNow().UtcTicks / TimeSpan.TicksPerDay;
            if (day != _day || _tracked >= MaxTrackedPairs)
            {
                Resets += day == _day ? 1 : 0;
                _byAccount.Clear();
                _byCredential.Clear();
                _tracked = 0;
                _day = day;
            }

            var skusOfAccount = MaxSkusPerAccount == 0 ? null : Set(_byAccount, accountKey);
            var skusOfCredential = MaxSkusPerCredential == 0 ? null : Set(_byCredential, credential);
            if (skusOfAccount is not null && !skusOfAccount.Contains(skuKey) && skusOfAccount.Count >= MaxSkusPerAccount)
            {
                return $"account '{account}' already sent {MaxSkusPerAccount} distinct SKUs unknown to the price books today (UTC); the limit is --ingest-max-skus-per-account";
            }

            if (skusOfCredential is not null && !skusOfCredential.Contains(skuKey) && skusOfCredential.Count >= MaxSkusPerCredential)
            {
                return $"these credentials already sent {MaxSkusPerCredential} distinct SKUs unknown to the price books today (UTC); the limit is --ingest-max-skus-per-credential";
            }

            _tracked += (skusOfAccount?.Add(skuKey) == true ? 1 : 0) + (skusOfCredential?.Add(skuKey) == true ? 1 : 0);
            return null;
        }
    }

    /// <summary>
    /// Exempts <paramref name="knownSkus"/> from here on (a price-book version published while the edge runs may price
    /// SKUs that were unknown); null keeps the current set.
    /// </summary>
    public void UseKnownSkus(IReadOnlySet<string>? knownSkus)
    {
        if (knownSkus is not null)
        {
            _knownSkus = knownSkus;
        }
    }

    private static HashSet<ulong> Set<TKey>(Dictionary<TKey, HashSet<ulong>> sets, TKey key)
        where TKey : notnull
    {
        if (!sets.TryGetValue(key, out var set))
        {
            set = [];
            sets.Add(key, set);
        }

        return set;
    }
}
