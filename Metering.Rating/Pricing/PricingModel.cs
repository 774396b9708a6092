namespace Metering.Rating.Pricing;

/// <summary>The pricing models (docs/pricebooks.md defines each precisely).</summary>
public enum PricingModel : byte
{
    /// <summary>quantity x unit price.</summary>
    PerUnit,
    /// <summary>Each tier prices its own units; flat fee of every tier the quantity reaches.</summary>
    Graduated,
    /// <summary>All units at the unit price of the tier the total reaches, plus that tier's flat fee.</summary>
    Volume,
    /// <summary>Price per started (or completed) block of N units.</summary>
    Package,
    /// <summary>A percentage of a monetary quantity plus a fixed fee per transaction, with optional per-transaction bounds.</summary>
    Percentage,
}

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

/// <summary>One tier. <see cref="UpTo"/> is inclusive ("up to and including"); null = open-ended last tier.</summary>
public sealed record PriceTier(decimal? UpTo, decimal UnitPrice, decimal FlatFee);
