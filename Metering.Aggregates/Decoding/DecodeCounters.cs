using Metering.Aggregates.Records;

namespace Metering.Aggregates.Decoding;

/// <summary>What one decoder has seen. Written by the decoder's thread; read after it finished.</summary>
public sealed class DecodeCounters
{
    /// <summary>Records read (non-blank lines).</summary>
    public long Read;

    /// <summary>Records decoded successfully (before dedup).</summary>
    public long Decoded;

    /// <summary>Bytes consumed from the input.</summary>
    public long Bytes;

    /// <summary>Rejected records by <see cref="RejectReason"/>.</summary>
    public long[] RejectedByReason { get; } = new long[RejectReasons.Count];

    /// <summary>All rejected records.</summary>
    public long Rejected
    {
        get
        {
            long sum = 0;
            foreach (var n in RejectedByReason)
            {
                sum += n;
            }

            return sum;
        }
    }
}
