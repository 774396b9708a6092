namespace Metering.Analytics;

/// <summary>One bucket of a usage query's answer; Dimensions holds only the group_by keys.</summary>
public sealed record UsagePoint(DateTimeOffset BucketStart, string Sku, IReadOnlyDictionary<string, string> Dimensions, decimal Quantity, long RecordCount, decimal Amount, string Currency);
