namespace Metering.Ledger.Corrections;

/// <summary>
/// One row of the <c>corrections</c> table (migration 0009), exactly as stored. Void and amend carry the event
/// (<see cref="EventId"/>, <see cref="Sku"/>, <see cref="EventTime"/>, its <see cref="OriginalPeriodStart"/>), the
/// event's <see cref="Revision"/> (1 for its first correction) and the quantities in the SKU's recorded unit, with
/// <see cref="QuantityDelta"/> = new - original; credit and debit carry a signed <see cref="Amount"/> (credit negative)
/// in <see cref="Currency"/>. <see cref="BookedPeriodStart"/> is the period whose statement carries the row. Instants
/// are UTC.
/// </summary>
public sealed record StoredCorrection(
    long Id,
    string IdempotencyKey,
    string Account,
    CorrectionKind Kind,
    string? EventId,
    string? Sku,
    DateTimeOffset? EventTime,
    DateTimeOffset? OriginalPeriodStart,
    DateTimeOffset BookedPeriodStart,
    int? Revision,
    decimal? OriginalQuantity,
    decimal? NewQuantity,
    decimal? QuantityDelta,
    decimal? Amount,
    string? Currency,
    string Actor,
    string Reason,
    DateTimeOffset CreatedAt)
{
    /// <summary>Void and amend of a SKU whose price groups by dimensions: the usage line (dimension group) it changes; "" otherwise.</summary>
    public string Group { get; init; } = "";
}
