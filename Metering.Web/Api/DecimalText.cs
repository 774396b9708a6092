using System.Globalization;
using Metering.Rating.Money;

namespace Metering.Web.Api;

/// <summary>Exact decimal text for JSON: money and quantities travel as strings, never as binary floating point.</summary>
internal static class DecimalText
{
    /// <summary>The value without trailing zeros (<c>12.500000000</c> becomes <c>12.5</c>, <c>3.000</c> becomes <c>3</c>).</summary>
    public static string Quantity(decimal value) => Normalize(value).ToString(CultureInfo.InvariantCulture);

    /// <summary>An amount with at least the currency's minor digits (USD <c>12.50</c>, JPY <c>1250</c>); never drops a digit.</summary>
    public static string Money(decimal value, string currency)
    {
        var normalized = Normalize(value);
        if (!Currency.TryGet(currency.Trim(), out var c))
        {
            return normalized.ToString(CultureInfo.InvariantCulture);
        }

        return normalized.Scale <= c.MinorUnits
            ? normalized.ToString("F" + c.MinorUnits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)
            : normalized.ToString(CultureInfo.InvariantCulture);
    }

    // Dividing by 1 with 28 zero decimals strips trailing zeros exactly (decimal keeps the smallest scale).
    private static decimal Normalize(decimal value) => value / 1.0000000000000000000000000000m;
}
