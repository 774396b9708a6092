using System.Globalization;

namespace Metering.Rating.Money;

/// <summary>
/// The range of every number that lands in a ledger column from outside (quota thresholds, price-book values) or is
/// written as a total: greater than -10^18 and less than 10^18, with at most 9 fractional digits (trailing zeros
/// beyond the ninth are fine: <c>1.5000000000</c> is 1.5).
/// </summary>
/// <remarks>
/// The columns are <c>numeric(38,9)</c>, which would hold up to 10^29, but every such value must also be read back
/// into a <see cref="decimal"/> (96-bit mantissa, ~7.9 x 10^28) at scale 9, inside the flush transaction; Npgsql 10
/// throws (an IndexOutOfRangeException) reading a 29-digit numeric. 10^18 leaves nine orders of magnitude of head-room
/// for sums and products of in-range values before either limit is near, and is beyond any real quantity or amount.
/// </remarks>
public static class LedgerDecimal
{
    /// <summary>The exclusive bound on the magnitude: 10^18.</summary>
    public const decimal Limit = 1_000_000_000_000_000_000m;

    /// <summary>Most fractional digits a ledger column keeps.</summary>
    public const int MaxScale = 9;

    /// <summary>The range in words, for error messages.</summary>
    public const string RangeText = "less than 10^18 (1000000000000000000) in magnitude, with at most 9 fractional digits";

    /// <summary>True when <paramref name="value"/> is inside the range (magnitude and fractional digits).</summary>
    public static bool Fits(decimal value) => Math.Abs(value) < Limit && decimal.Round(value, MaxScale) == value;

    /// <summary>True when <paramref name="value"/>'s magnitude is inside the range (any number of fractional digits: prices).</summary>
    public static bool FitsMagnitude(decimal value) => Math.Abs(value) < Limit;

    /// <summary>
    /// Parses an exact decimal string (digits, an optional point and sign; no exponent, no thousands separators) that
    /// must be above zero and inside the range; returns null or why not, naming the range.
    /// </summary>
    public static string? ParsePositive(string? text, out decimal value)
    {
        value = 0;
        if (string.IsNullOrEmpty(text) || !decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out value)
            || value <= 0 || !Fits(value) || FractionalDigits(text) > MaxScale)
        {
            var shown = text is null ? "nothing" : text.Length <= 64 ? $"'{text}'" : $"'{text[..64]}...' ({text.Length} characters)";
            return $"must be a decimal string above 0 and {RangeText}; got {shown}";
        }

        return null;
    }

    /// <summary>Fractional digits written, without trailing zeros (decimal.TryParse rounds beyond 28 digits silently).</summary>
    private static int FractionalDigits(string text)
    {
        var point = text.IndexOf('.', StringComparison.Ordinal);
        return point < 0 ? 0 : text.AsSpan(point + 1).TrimEnd('0').Length;
    }
}
