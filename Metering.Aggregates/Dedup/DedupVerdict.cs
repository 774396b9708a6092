namespace Metering.Aggregates.Dedup;

/// <summary>What the dedup horizon says of a record's idempotency key.</summary>
public enum DedupVerdict : byte
{
    /// <summary>First time seen within the horizon: count it (the key is now remembered).</summary>
    New,
    /// <summary>Seen before within the horizon: a duplicate, not aggregated.</summary>
    Duplicate,
    /// <summary>
    /// Seen before within the horizon with another payload digest (<see cref="PayloadDigest"/>): the same id re-used
    /// for different usage. Not aggregated (the first record stays counted) and dead-lettered with reason conflict.
    /// </summary>
    Conflict,
    /// <summary>Older than the horizon: its key can no longer be checked, so it is rejected rather than risk a double count.</summary>
    Expired,
}
