using Metering.Rating.Pricing;

namespace Metering.Rating.PriceBooks;

/// <summary>The answer to "which price applies to account A, SKU S at instant T" (see <see cref="PriceCatalog.Resolve"/>).</summary>
public readonly record struct PriceResolution(SkuPrice? Price, PriceBook? Book, PriceBookVersion? Version, string? UnpricedReason, string? Detail)
{
    /// <summary>True when a price was found.</summary>
    public bool IsPriced => Price is not null;
}
