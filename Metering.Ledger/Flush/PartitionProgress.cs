namespace Metering.Ledger.Flush;

/// <summary>What one partition contributed since its last durable flush.</summary>
public sealed class PartitionProgress
{
    /// <summary>Partition number.</summary>
    public required int Partition { get; init; }

    /// <summary>The offset this batch started from (what PostgreSQL must still hold as next_offset: the fence).</summary>
    public required long StartOffset { get; set; }

    /// <summary>The next offset to consume after this batch.</summary>
    public long NextOffset { get; set; }

    /// <summary>Records read.</summary>
    public long Read { get; set; }

    /// <summary>Records accepted (aggregated).</summary>
    public long Accepted { get; set; }

    /// <summary>Duplicates.</summary>
    public long Duplicates { get; set; }

    /// <summary>Rejected records.</summary>
    public long Rejected { get; set; }

    /// <summary>Accepted quantity, nano-units.</summary>
    public Int128 AcceptedNanos { get; set; }

    /// <summary>Offset ranges the broker deleted before they were read (data loss, recorded in offset_gaps).</summary>
    public List<OffsetGap> Gaps { get; init; } = [];

    /// <summary>Starts the next batch at <see cref="NextOffset"/> with zero counters.</summary>
    public void Reset()
    {
        Gaps.Clear();
        StartOffset = NextOffset;
        Read = Accepted = Duplicates = Rejected = 0;
        AcceptedNanos = 0;
    }
}
