namespace Metering.Aggregates.Aggregation;

/// <summary>What the aggregator does with a record whose new key does not fit under the active-key limit.</summary>
public enum KeyLimitPolicy : byte
{
    /// <summary>Flush the current generation early, then count the record in the fresh one (default: nothing is lost).</summary>
    FlushEarly,
    /// <summary>Dead-letter the record with reason aggregate_key_limit (it can be replayed later).</summary>
    Reject,
}
