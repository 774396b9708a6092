namespace Metering.Ledger.Corrections;

/// <summary>
/// What the ledger holds for one account, SKU and period: <see cref="RecordedQuantity"/> in
/// <see cref="RecordedRecords"/> records as recorded (period total plus late usage), and <see cref="Quantity"/> in
/// <see cref="Records"/> after the earlier corrections of the period (their deltas; one record per void).
/// </summary>
internal sealed record Recorded(decimal RecordedQuantity, long RecordedRecords, decimal Quantity, long Records);
