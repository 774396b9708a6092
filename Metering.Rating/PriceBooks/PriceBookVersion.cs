using Metering.Rating.Money;
using Metering.Rating.Pricing;

namespace Metering.Rating.PriceBooks;

/// <summary>
/// One immutable version of a price book, identified by its content hash. Its own fields price in the book's
/// currency; <c>currency_options</c> price SKUs, fees and the commitment in other currencies (docs/pricebooks.md,
/// "Currencies"), each a complete price of its own that is never derived from another currency's.
/// </summary>
public sealed class PriceBookVersion
{
    private static readonly Dictionary<string, decimal> NoCommitmentOptions = new(StringComparer.Ordinal);
    private readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, SkuPrice>> _currencyPrices;
    private readonly IReadOnlyDictionary<string, decimal> _commitmentOptions;

    internal PriceBookVersion(string version, DateTimeOffset from, DateTimeOffset? to, IReadOnlyDictionary<string, SkuPrice> prices,
        IReadOnlyList<RecurringFee> fees, decimal? minimumCommitment, string hash,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, SkuPrice>>? currencyPrices = null, IReadOnlyDictionary<string, decimal>? commitmentOptions = null)
    {
        Version = version;
        EffectiveFrom = from;
        EffectiveTo = to;
        Prices = prices;
        Fees = fees;
        MinimumCommitment = minimumCommitment;
        Hash = hash;
        _currencyPrices = currencyPrices ?? new Dictionary<string, IReadOnlyDictionary<string, SkuPrice>>(StringComparer.Ordinal);
        _commitmentOptions = commitmentOptions ?? NoCommitmentOptions;
        var currencies = new SortedSet<string>(_currencyPrices.Keys, StringComparer.Ordinal);
        currencies.UnionWith(_commitmentOptions.Keys);
        foreach (var fee in fees)
        {
            currencies.UnionWith(fee.CurrencyAmounts.Keys);
        }

        OtherCurrencies = currencies;
    }

    /// <summary>Version name.</summary>
    public string Version { get; }

    /// <summary>First instant the version applies (inclusive).</summary>
    public DateTimeOffset EffectiveFrom { get; }

    /// <summary>First instant it no longer applies (exclusive); null = open-ended.</summary>
    public DateTimeOffset? EffectiveTo { get; }

    /// <summary>Prices by SKU, in the book's currency.</summary>
    public IReadOnlyDictionary<string, SkuPrice> Prices { get; }

    /// <summary>Recurring fees per period.</summary>
    public IReadOnlyList<RecurringFee> Fees { get; }

    /// <summary>Minimum usage amount per period (true-up line) in the book's currency, if any.</summary>
    public decimal? MinimumCommitment { get; }

    /// <summary>"sha256:..." of the canonical JSON of the version, with the book id and currency: lineage of every charge.</summary>
    public string Hash { get; }

    /// <summary>The ISO 4217 codes, other than the book's, that any price, fee or commitment of the version has an option in (sorted).</summary>
    public IReadOnlySet<string> OtherCurrencies { get; }

    /// <summary>
    /// The price of <paramref name="sku"/> in <paramref name="currency"/>: its own price when that is the book's
    /// currency (<paramref name="bookCurrency"/>), else its currency option; null when it has none in it (or no price).
    /// </summary>
    public SkuPrice? PriceIn(string sku, Currency currency, Currency bookCurrency)
    {
        ArgumentNullException.ThrowIfNull(currency);
        ArgumentNullException.ThrowIfNull(bookCurrency);
        if (currency == bookCurrency)
        {
            return Prices.GetValueOrDefault(sku);
        }

        return _currencyPrices.TryGetValue(currency.Code, out var prices) ? prices.GetValueOrDefault(sku) : null;
    }

    /// <summary>Every price of the version, in the book's currency and in each currency option.</summary>
    public IEnumerable<KeyValuePair<string, SkuPrice>> AllPrices() => Prices.Concat(_currencyPrices.Values.SelectMany(p => p));

    /// <summary>The minimum commitment in <paramref name="currency"/> (the book's own: <see cref="MinimumCommitment"/>), or null.</summary>
    public decimal? CommitmentIn(Currency currency, Currency bookCurrency)
    {
        ArgumentNullException.ThrowIfNull(currency);
        ArgumentNullException.ThrowIfNull(bookCurrency);
        return currency == bookCurrency ? MinimumCommitment : _commitmentOptions.TryGetValue(currency.Code, out var c) ? c : null;
    }
}
