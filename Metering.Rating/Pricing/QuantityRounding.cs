namespace Metering.Rating.Pricing;

/// <summary>How a divided or packaged quantity is rounded to whole units.</summary>
public enum QuantityRounding : byte
{
    /// <summary>Keep the exact quotient (unit conversion only).</summary>
    None,
    /// <summary>Round up to a whole number (a started block counts).</summary>
    Up,
    /// <summary>Round down to a whole number (only completed blocks count).</summary>
    Down,
}
