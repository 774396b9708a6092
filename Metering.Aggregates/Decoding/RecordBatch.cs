using Metering.Aggregates.Records;

namespace Metering.Aggregates.Decoding;

/// <summary>A reusable array of decoded records.</summary>
public sealed class RecordBatch(int capacity)
{
    /// <summary>The records; only the first <see cref="Count"/> are valid.</summary>
    public UsageRecord[] Items { get; } = new UsageRecord[capacity];

    /// <summary>Valid records in <see cref="Items"/>.</summary>
    public int Count { get; set; }

    /// <summary>True when no more records fit.</summary>
    public bool IsFull => Count == Items.Length;
}
