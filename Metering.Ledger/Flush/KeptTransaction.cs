namespace Metering.Ledger.Flush;

/// <summary>
/// One accepted record of a SKU whose price is rated per transaction, as the engine took it in: the ids of its aggregate
/// key (in the batch's catalog), its event time (<see cref="DateTime.Ticks"/>, UTC), its dedup fingerprint and its
/// quantity in nano-units.
/// </summary>
public readonly record struct KeptTransaction(int AccountId, int SkuId, int DimensionSetId, long TimeTicks, UInt128 Fingerprint, long QuantityNanos);
