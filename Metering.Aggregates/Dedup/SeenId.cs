namespace Metering.Aggregates.Dedup;

/// <summary>
/// One id a dedup store remembers: the record's tenant-scoped <see cref="Fingerprint"/>, the
/// <see cref="PayloadDigest"/> of its billed payload (<see cref="Dedup.PayloadDigest.None"/> when unknown) and its
/// event time (UTC ticks), which places it in the horizon.
/// </summary>
public readonly record struct SeenId(UInt128 Fingerprint, ulong PayloadDigest, long TimeTicks);
