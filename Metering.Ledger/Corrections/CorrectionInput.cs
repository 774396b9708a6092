namespace Metering.Ledger.Corrections;

/// <summary>
/// A correction as the API body or the command line gives it, before validation: every field as text, null when
/// absent. <see cref="CorrectionRequest.Validate"/> turns it into a <see cref="CorrectionRequest"/> or field problems.
/// </summary>
public sealed record CorrectionInput(
    string? Account,
    string? Kind,
    string? IdempotencyKey,
    string? EventId = null,
    string? Sku = null,
    string? EventTime = null,
    string? OriginalQuantity = null,
    string? NewQuantity = null,
    string? Amount = null,
    string? Currency = null,
    string? Period = null,
    string? Reason = null)
{
    /// <summary>Void and amend of an event of a SKU whose price groups by dimensions: the event's dimensions as it was sent (only the grouped ones matter).</summary>
    public IReadOnlyDictionary<string, string>? Dimensions { get; init; }
}
