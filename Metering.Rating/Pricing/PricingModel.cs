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
