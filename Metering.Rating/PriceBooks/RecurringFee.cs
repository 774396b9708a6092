using Metering.Rating.Money;

namespace Metering.Rating.PriceBooks;

/// <summary>
/// A flat recurring fee per period, in the book's currency; prorated by seconds for partial periods when
/// <see cref="Prorate"/>. <see cref="CurrencyAmounts"/> holds its amount in the version's other currencies
/// (<c>currency_options</c>, docs/pricebooks.md "Currencies"); an amount is never converted from one to another.
/// </summary>
public sealed record RecurringFee(string Id, decimal Amount, bool Prorate)
{
    /// <summary>The fee's amount by ISO 4217 code, for currencies other than the book's; empty when it has none.</summary>
    public IReadOnlyDictionary<string, decimal> CurrencyAmounts { get; init; } = new Dictionary<string, decimal>(StringComparer.Ordinal);

    /// <summary>The fee's amount in <paramref name="currency"/> (the book's own: <see cref="Amount"/>), or null when it has none in it.</summary>
    public decimal? AmountIn(Currency currency, Currency bookCurrency)
    {
        ArgumentNullException.ThrowIfNull(currency);
        ArgumentNullException.ThrowIfNull(bookCurrency);
        return currency == bookCurrency ? Amount : CurrencyAmounts.TryGetValue(currency.Code, out var amount) ? amount : null;
    }
}
