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
    string? Reason = null);
