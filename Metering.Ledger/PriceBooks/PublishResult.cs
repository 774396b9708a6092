namespace Metering.Ledger.PriceBooks;

/// <summary>How <see cref="PriceBookStore.PublishAsync"/> ended.</summary>
public enum PublishResult
{
    /// <summary>Stored now.</summary>
    Created,

    /// <summary>The identical version was already published (idempotent repeat).</summary>
    Unchanged,

    /// <summary>Refused: see the detail.</summary>
    Conflict,
}
