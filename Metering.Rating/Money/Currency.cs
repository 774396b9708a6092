namespace Metering.Rating.Money;

/// <summary>An ISO 4217 currency and its minor units (USD 2, JPY 0, KWD 3).</summary>
public sealed record Currency(string Code, int MinorUnits)
{
    private static readonly Dictionary<string, Currency> Known = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        // The currencies billing teams actually invoice in, with ISO 4217 exponents.
        ["USD"] = 2, ["EUR"] = 2, ["GBP"] = 2, ["CHF"] = 2, ["CAD"] = 2, ["AUD"] = 2, ["NZD"] = 2, ["SGD"] = 2,
        ["HKD"] = 2, ["CNY"] = 2, ["INR"] = 2, ["BRL"] = 2, ["MXN"] = 2, ["ZAR"] = 2, ["SEK"] = 2, ["NOK"] = 2,
        ["DKK"] = 2, ["PLN"] = 2, ["CZK"] = 2, ["HUF"] = 2, ["ILS"] = 2, ["TRY"] = 2, ["AED"] = 2, ["SAR"] = 2,
        ["THB"] = 2, ["MYR"] = 2, ["PHP"] = 2, ["IDR"] = 2, ["TWD"] = 2, ["RON"] = 2, ["ARS"] = 2, ["COP"] = 2,
        ["CLP"] = 0, ["JPY"] = 0, ["KRW"] = 0, ["VND"] = 0, ["ISK"] = 0, ["UGX"] = 0, ["XAF"] = 0, ["XOF"] = 0,
        ["KWD"] = 3, ["BHD"] = 3, ["OMR"] = 3, ["JOD"] = 3, ["TND"] = 3, ["LYD"] = 3, ["IQD"] = 3,
    }.ToDictionary(kv => kv.Key, kv => new Currency(kv.Key, kv.Value), StringComparer.Ordinal);

    /// <summary>Looks up a currency by its ISO 4217 code (upper case).</summary>
    public static bool TryGet(string code, out Currency currency)
    {
        ArgumentNullException.ThrowIfNull(code);
        if (Known.TryGetValue(code, out var found))
        {
            currency = found;
            return true;
        }

        currency = null!;
        return false;
    }

    /// <summary>A known currency; throws naming the code otherwise.</summary>
    public static Currency Get(string code) =>
        TryGet(code, out var c) ? c : throw new ArgumentException($"unknown ISO 4217 currency '{code}'", nameof(code));
}
