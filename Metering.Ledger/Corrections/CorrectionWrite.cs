namespace Metering.Ledger.Corrections;

/// <summary>
/// The outcome of <see cref="CorrectionStore.WriteAsync"/>. <see cref="Correction"/> is the stored row when
/// <see cref="Status"/> is created, replayed or idempotency_conflict (then the row that holds the key);
/// <see cref="Refusal"/> is set when refused. <see cref="DifferingFields"/> names, for a conflict, the request fields
/// that differ from the stored row (the API's names).
/// </summary>
public sealed record CorrectionWrite(CorrectionWriteStatus Status, StoredCorrection? Correction, CorrectionRefusal? Refusal, IReadOnlyList<string> DifferingFields);
