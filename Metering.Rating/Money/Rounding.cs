namespace Metering.Rating.Money;

/// <summary>Rounding of amounts to minor units.</summary>
public static class Rounding
{
    /// <summary>Rounds <paramref name="amount"/> to <paramref name="minorUnits"/> decimals with <paramref name="mode"/>. Exact decimal arithmetic.</summary>
    public static decimal Round(decimal amount, int minorUnits, RoundingMode mode) => mode switch
    {
        RoundingMode.HalfUp => decimal.Round(amount, minorUnits, MidpointRounding.AwayFromZero),
        RoundingMode.HalfEven => decimal.Round(amount, minorUnits, MidpointRounding.ToEven),
        RoundingMode.Up => decimal.Round(amount, minorUnits, MidpointRounding.AwayFromZero) == amount
            ? amount
            : decimal.Round(amount, minorUnits, amount >= 0 ? MidpointRounding.ToPositiveInfinity : MidpointRounding.ToNegativeInfinity),
        _ => decimal.Round(amount, minorUnits, MidpointRounding.ToZero),
    };

    /// <summary>Parses "half_up", "half_even", "up", "down".</summary>
    public static bool TryParse(string? text, out RoundingMode mode)
    {
        switch (text)
        {
            case "half_up": mode = RoundingMode.HalfUp; return true;
            case "half_even": mode = RoundingMode.HalfEven; return true;
            case "up": mode = RoundingMode.Up; return true;
            case "down": mode = RoundingMode.Down; return true;
            default: mode = default; return false;
        }
    }
}
