using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Records;

namespace Metering.Ingest.Pipeline;

/// <summary>What one run of the aggregation pipeline read, counted and produced.</summary>
public sealed class PipelineResult
{
    /// <summary>Records read (non-blank lines).</summary>
    public long Read { get; init; }

    /// <summary>Records aggregated.</summary>
    public long Accepted { get; init; }

    /// <summary>Records recognised as repeats within the dedup horizon.</summary>
    public long Duplicates { get; init; }

    /// <summary>Rejected records by reason (decoder rejects, expired, key limit).</summary>
    public required long[] RejectedByReason { get; init; }

    /// <summary>All rejected records.</summary>
    public long Rejected => RejectedByReason.Sum();

    /// <summary>Bytes read.</summary>
    public long Bytes { get; init; }

    /// <summary>Wall time of the run, from the first read to the merged rows (the final drain included).</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>The part of <see cref="Elapsed"/> spent draining the aggregates at the end and merging early flushes.</summary>
    public TimeSpan DrainElapsed { get; init; }

    /// <summary>Rows of every flush, merged so each key appears once.</summary>
    public required IReadOnlyList<AggregateRow> Rows { get; init; }

    /// <summary>Early flushes forced by the key limit.</summary>
    public long EarlyFlushes { get; init; }

    /// <summary>Dedup table size at the end.</summary>
    public long DedupEntries { get; init; }

    /// <summary>Dedup table memory at the end.</summary>
    public long DedupBytes { get; init; }

    /// <summary>Dedup buckets evicted early for lack of room (horizon shortened).</summary>
    public long DedupEarlyEvictions { get; init; }

    /// <summary>True when read = accepted + duplicates + rejected.</summary>
    public bool IsBalanced => Read == Accepted + Duplicates + Rejected;

    /// <summary>Records per second.</summary>
    public double RecordsPerSecond => Read / Math.Max(Elapsed.TotalSeconds, 1e-9);

    /// <summary>One-line balance for the console.</summary>
    public string Balance()
    {
        var reasons = string.Join(", ", Enumerable.Range(0, RejectedByReason.Length)
            .Where(r => RejectedByReason[r] > 0)
            .Select(r => $"{((RejectReason)r).Code()}={RejectedByReason[r]}"));
        return $"read {Read:N0} = accepted {Accepted:N0} + duplicates {Duplicates:N0} + rejected {Rejected:N0}" +
               (reasons.Length > 0 ? $" ({reasons})" : "") + (IsBalanced ? "  [balanced]" : "  [NOT BALANCED]");
    }
}
