using Metering.Rating.Money;
using Metering.Rating.Pricing;

namespace Metering.Rating.PriceBooks;

/// <summary>
/// The answer to "which price applies to account A, SKU S at instant T" (see <see cref="PriceCatalog.Resolve"/>).
/// <paramref name="Currency"/> is the currency the price charges in (the account's billing currency, or the book's
/// for an account whose currency the catalog does not know); set whenever a price was found.
/// </summary>
public readonly record struct PriceResolution(SkuPrice? Price, PriceBook? Book, PriceBookVersion? Version, string? UnpricedReason, string? Detail, Currency? Currency = null)
{
    /// <summary>
    /// The reason of usage whose SKU the applicable version prices, but not in the account's billing currency:
    /// unpriced and flagged, never converted from another currency.
    /// </summary>
    public const string CurrencyNotPriced = "currency_not_priced";

    /// <summary>True when a price was found.</summary>
    public bool IsPriced => Price is not null;
}
