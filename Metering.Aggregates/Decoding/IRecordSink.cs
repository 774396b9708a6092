
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
