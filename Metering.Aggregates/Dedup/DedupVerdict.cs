namespace Metering.Aggregates.Dedup;

/// <summary>What the dedup horizon says of a record's idempotency key.</summary>
public enum DedupVerdict : byte
{
    /// <summary>First time seen within the horizon: count it (the key is now remembered).</summary>
    New,
    /// <summary>Seen before within the horizon: a duplicate, not aggregated.</summary>
    Duplicate,
    /// <summary>Older than the horizon: its key can no longer be checked, so it is rejected rather than risk a double count.</summary>
    Expired,
}
