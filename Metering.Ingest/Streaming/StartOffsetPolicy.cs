namespace Metering.Ingest.Streaming;

/// <summary>What a partition with no offset in PostgreSQL (never consumed by this group) starts from.</summary>
public enum StartOffsetPolicy
{
    /// <summary>
    /// The partition's history starts at offset 0: if the broker's log starts later, [0, low watermark) was deleted
    /// before this group read it and is recorded as data loss (offset_gaps; `metering verify` fails).
    /// </summary>
    FromZero,

    /// <summary>
    /// The broker's earliest offset is the start of the history (`stream --start-offset earliest-is-complete`): a new
    /// group on a topic whose older records were already billed elsewhere. Nothing before it is recorded as lost.
    /// </summary>
    EarliestIsComplete,
}
