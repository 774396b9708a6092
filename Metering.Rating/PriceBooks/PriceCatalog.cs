
namespace Metering.Rating.PriceBooks;

/// <summary>
/// The list book plus the contract books. Resolution rule, one for everything: for account A, SKU S at instant T,
/// (1) if A has a contract book whose version effective at T prices S, that price applies; otherwise (2) the list
/// book's version effective at T prices S; otherwise S is unpriced, with the reason (no_version_effective,
/// unknown_sku, unknown_account when there is no list book and no contract). Thread-safe.
/// </summary>
public sealed class PriceCatalog
{
    private readonly Dictionary<string, PriceBook> _contracts;

    /// <summary>Creates a catalog; contracts must name <paramref name="list"/> as their parent.</summary>
    public PriceCatalog(PriceBook? list, IEnumerable<PriceBook> contracts)
    {
        ArgumentNullException.ThrowIfNull(contracts);
        List = list;
        _contracts = new Dictionary<string, PriceBook>(StringComparer.Ordinal);
        foreach (var c in contracts)
        {
            if (!c.IsContract)
            {
                throw new ArgumentException($"price book '{c.Id}' is not a contract book (no account)", nameof(contracts));
            }

            if (!_contracts.TryAdd(c.Account!, c))
            {
                throw new ArgumentException($"account '{c.Account}' has two contract books ('{_contracts[c.Account!].Id}' and '{c.Id}')", nameof(contracts));
            }
        }
    }

    /// <summary>The list (default) book.</summary>
    public PriceBook? List { get; }

    /// <summary>Every contract book.</summary>
    public IEnumerable<PriceBook> Contracts => _contracts.Values;

    /// <summary>The contract book of <paramref name="account"/>, if any.</summary>
    public PriceBook? ContractOf(string account) => _contracts.GetValueOrDefault(account);

    /// <summary>Every SKU any version of any book prices (what admission's unknown-SKU policy checks against).</summary>
    public IReadOnlySet<string> KnownSkus()
    {
        var skus = new HashSet<string>(StringComparer.Ordinal);
        foreach (var book in List is null ? _contracts.Values : _contracts.Values.Prepend(List))
        {
            foreach (var version in book.Versions)
            {
                skus.UnionWith(version.Prices.Keys);
            }
        }

        return skus;
    }

    /// <summary>Resolves the price of <paramref name="sku"/> for <paramref name="account"/> at <paramref name="instant"/>.</summary>
    public PriceResolution Resolve(string account, string sku, DateTimeOffset instant)
    {
        if (_contracts.TryGetValue(account, out var contract) && contract.VersionAt(instant) is { } cv && cv.Prices.TryGetValue(sku, out var cp))
        {
            return new PriceResolution(cp, contract, cv, null, null);
        }

        if (List is null)
        {
            return new PriceResolution(null, null, null, "unknown_account", $"no list price book, and no contract book for account '{account}'");
        }

        var version = List.VersionAt(instant);
        if (version is null)
        {
            return new PriceResolution(null, List, null, "no_version_effective", $"price book '{List.Id}' has no version effective at {instant:O}");
        }

        return version.Prices.TryGetValue(sku, out var price)
            ? new PriceResolution(price, List, version, null, null)
            : new PriceResolution(null, List, version, "unknown_sku", $"SKU '{sku}' is not priced in '{List.Id}' version '{version.Version}'");
    }
}
