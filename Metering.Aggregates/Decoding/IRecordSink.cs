using Metering.Aggregates.Records;

namespace Metering.Aggregates.Decoding;

/// <summary>Receives what a decoder produced: full batches of records, and dead letters one at a time.</summary>
public interface IRecordSink
{
    /// <summary>
    /// Takes ownership of a filled batch and returns an empty one for the decoder to fill next (the same array
    /// when the sink consumed it synchronously, a recycled one when another thread will consume it).
    /// </summary>
    RecordBatch OnBatch(RecordBatch batch);

    /// <summary>Receives one rejected record. Called on the decoder's thread.</summary>
    void OnDeadLetter(DeadLetter deadLetter);
}

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
