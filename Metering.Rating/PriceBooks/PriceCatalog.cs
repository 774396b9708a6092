using Metering.Rating.Meters;
using Metering.Rating.Money;
using Metering.Rating.Pricing;

namespace Metering.Rating.PriceBooks;

/// <summary>
/// The list book plus the contract books, and optionally the billing currencies of accounts. Resolution rule, one for
/// everything: for account A, SKU S at instant T, (1) if A has a contract book whose version effective at T prices S,
/// that price applies; otherwise (2) the list book's version effective at T prices S; otherwise S is unpriced, with
/// the reason (no_version_effective, unknown_sku, unknown_account when there is no list book and no contract). The
/// price charges in A's billing currency (<see cref="CurrencyOf"/>): the book's own price when that is the book's
/// currency, else the price's currency option; a price without one is unpriced
/// (<see cref="PriceResolution.CurrencyNotPriced"/>), never converted and never taken from another book. An account
/// whose currency the catalog does not know is charged in the book's currency. Immutable and thread-safe.
/// </summary>
public sealed class PriceCatalog
{
    private readonly Dictionary<string, PriceBook> _contracts;
    private readonly IReadOnlyDictionary<string, Currency>? _accountCurrencies;

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

    // The same books, with the billing currencies of accounts (WithAccountCurrencies).
    private PriceCatalog(PriceCatalog books, IReadOnlyDictionary<string, Currency> accountCurrencies)
    {
        List = books.List;
        _contracts = books._contracts;
        _accountCurrencies = accountCurrencies;
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

    /// <summary>Every book of the catalog: the list book (if any), then the contracts.</summary>
    public IEnumerable<PriceBook> Books() => List is null ? _contracts.Values : _contracts.Values.Prepend(List);

    /// <summary>
    /// The SKUs whose single records a flush needs, not only their windows' count, sum, min and max: those rated per
    /// transaction (<see cref="SkusRatedPerTransaction"/>) and those a record meter measures (<see cref="RecordMeters"/>:
    /// time_weighted readings and percentile buckets come from each record's own time, latest compares event ids,
    /// unique_count counts a dimension's values). The engine keeps these records for the next flush.
    /// </summary>
    public IReadOnlySet<string> SkusKeepingRecords()
    {
        var skus = new HashSet<string>(SkusRatedPerTransaction(), StringComparer.Ordinal);
        skus.UnionWith(RecordMeters().Keys);
        return skus;
    }

    /// <summary>
    /// The meter of each SKU whose meter needs its single records (<see cref="MeterDefinition.NeedsRecords"/>), so the
    /// engine can carry what it reads beyond a <c>UsageRecord</c>: a latest meter's event ids, a unique_count meter's
    /// field values. A SKU has one meter in every version of a book and in the contracts overriding it (the loader
    /// checks, and a contract prices only SKUs its list book prices); should a SKU appear only in contracts, the first
    /// contract by account (ordinal) that prices it gives its meter.
    /// </summary>
    public IReadOnlyDictionary<string, MeterDefinition> RecordMeters()
    {
        var meters = new Dictionary<string, MeterDefinition>(StringComparer.Ordinal);
        var contracts = Contracts.OrderBy(c => c.Account, StringComparer.Ordinal);
        foreach (var book in List is null ? contracts : contracts.Prepend(List))
        {
            foreach (var version in book.Versions)
            {
                foreach (var (sku, price) in version.AllPrices())
                {
                    if (price.Meter.NeedsRecords)
                    {
                        meters.TryAdd(sku, price.Meter);
                    }
                }
            }
        }

        return meters;
    }

    /// <summary>
    /// The SKUs that some price of some version of any book (in any currency) rates per transaction
    /// (<see cref="SkuPrice.NeedsTransactions"/>): the engine keeps their records one by one for the flush.
    /// </summary>
    public IReadOnlySet<string> SkusRatedPerTransaction()
    {
        var skus = new HashSet<string>(StringComparer.Ordinal);
        foreach (var book in Books())
        {
            foreach (var version in book.Versions)
            {
                skus.UnionWith(version.AllPrices().Where(p => p.Value.NeedsTransactions).Select(p => p.Key));
            }
        }

        return skus;
    }

    /// <summary>
    /// The same books, rating each account of <paramref name="accountCurrencies"/> in its billing currency (replacing
    /// the currencies this catalog knew). Accounts not in it are charged in the book's currency. Shares the books: cheap.
    /// </summary>
    public PriceCatalog WithAccountCurrencies(IReadOnlyDictionary<string, Currency> accountCurrencies)
    {
        ArgumentNullException.ThrowIfNull(accountCurrencies);
        return new PriceCatalog(this, accountCurrencies);
    }

    /// <summary>The same books with <paramref name="account"/> billed in <paramref name="currency"/> (null: in the book's currency), other accounts as here.</summary>
    public PriceCatalog WithAccountCurrency(string account, Currency? currency)
    {
        ArgumentException.ThrowIfNullOrEmpty(account);
        var currencies = new Dictionary<string, Currency>(StringComparer.Ordinal);
        foreach (var (a, c) in _accountCurrencies ?? new Dictionary<string, Currency>())
        {
            currencies[a] = c;
        }

        if (currency is null)
        {
            currencies.Remove(account);
        }
        else
        {
            currencies[account] = currency;
        }

        return new PriceCatalog(this, currencies);
    }

    /// <summary>The billing currency of <paramref name="account"/> this catalog rates in; null: the book's currency.</summary>
    public Currency? CurrencyOf(string account) => _accountCurrencies?.GetValueOrDefault(account);

    /// <summary>Resolves the price of <paramref name="sku"/> for <paramref name="account"/> at <paramref name="instant"/>, in the account's currency.</summary>
    public PriceResolution Resolve(string account, string sku, DateTimeOffset instant)
    {
        var currency = CurrencyOf(account);
        if (_contracts.TryGetValue(account, out var contract) && contract.VersionAt(instant) is { } cv && cv.Prices.TryGetValue(sku, out var cp))
        {
            // The contract overrides the SKU in every currency: without an option in the account's, the list's price
            // would be a price the contract replaced, so the usage is unpriced rather than rated by it.
            return In(contract, cv, sku, cp, currency);
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
            ? In(List, version, sku, price, currency)
            : new PriceResolution(null, List, version, "unknown_sku", $"SKU '{sku}' is not priced in '{List.Id}' version '{version.Version}'");
    }

    /// <summary>
    /// Cuts <paramref name="period"/> into the segments in which one price rates <paramref name="sku"/> for
    /// <paramref name="account"/> (docs/pricebooks.md, "Versions that take effect inside a period"): a new segment starts
    /// at every instant inside the period where a version of the account's contract or of the list book starts or ends
    /// and the resolved price (book and version) changes. One segment, from the period's start, when nothing changes
    /// inside it (the common case). Segments come in time order; the first starts at the period's start.
    /// </summary>
    public IReadOnlyList<PriceSegment> Segments(string account, string sku, Periods.BillingPeriod period)
    {
        var first = new PriceSegment(period.Start, Resolve(account, sku, period.Start));
        List<DateTimeOffset>? instants = null;
        AddInstants(List, period, ref instants);
        AddInstants(ContractOf(account), period, ref instants);
        if (instants is null)
        {
            return [first];
        }

        instants.Sort();
        var segments = new List<PriceSegment> { first };
        foreach (var instant in instants)
        {
            var resolution = Resolve(account, sku, instant);
            var last = segments[^1].Resolution;
            if (instant == segments[^1].From || Same(last, resolution))
            {
                continue;
            }

            segments.Add(new PriceSegment(instant, resolution));
        }

        return segments;

        static bool Same(PriceResolution a, PriceResolution b) =>
            ReferenceEquals(a.Book, b.Book) && ReferenceEquals(a.Version, b.Version) && a.UnpricedReason == b.UnpricedReason && a.Currency == b.Currency;
    }

    private static void AddInstants(PriceBook? book, Periods.BillingPeriod period, ref List<DateTimeOffset>? instants)
    {
        if (book is null)
        {
            return;
        }

        foreach (var v in book.Versions)
        {
            if (v.EffectiveFrom > period.Start && v.EffectiveFrom < period.End)
            {
                (instants ??= []).Add(v.EffectiveFrom);
            }

            if (v.EffectiveTo is { } to && to > period.Start && to < period.End)
            {
                (instants ??= []).Add(to);
            }
        }
    }

    // bookPrice: the SKU's price in the book's currency (the version prices the SKU).
    private static PriceResolution In(PriceBook book, PriceBookVersion version, string sku, SkuPrice bookPrice, Currency? currency)
    {
        if (currency is null || currency == book.Currency)
        {
            return new PriceResolution(bookPrice, book, version, null, null, book.Currency);
        }

        var charged = currency;
        if (version.PriceIn(sku, charged, book.Currency) is { } price)
        {
            return new PriceResolution(price, book, version, null, null, charged);
        }

        var offered = string.Join(", ", version.OtherCurrencies.Where(c => version.PriceIn(sku, Currency.Get(c), book.Currency) is not null).Prepend(book.Currency.Code));
        return new PriceResolution(null, book, version, PriceResolution.CurrencyNotPriced,
            $"SKU '{sku}' has no {charged.Code} price in '{book.Id}' version '{version.Version}' (priced in {offered}), and the account is billed in {charged.Code}: usage is never converted");
    }
}
