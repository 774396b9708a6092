namespace Metering.Rating.Money;

/// <summary>How an amount is rounded to a currency's minor units. The only rounding of money in the engine.</summary>
public enum RoundingMode : byte
{
    /// <summary>Half away from zero ("half-up" on invoices; the default): 0.125 -> 0.13, -0.125 -> -0.13.</summary>
    HalfUp,
    /// <summary>Half to even (banker's rounding): 0.125 -> 0.12, 0.135 -> 0.14.</summary>
    HalfEven,
    /// <summary>Away from zero (ceiling of the magnitude): 0.121 -> 0.13.</summary>
    Up,
    /// <summary>Toward zero (truncation): 0.129 -> 0.12.</summary>
    Down,
}
