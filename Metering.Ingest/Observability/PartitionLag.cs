
namespace Metering.Ingest.Observability;

/// <summary>Consumer lag of one partition: messages between the consumer's position and the partition's high watermark.</summary>
public readonly record struct PartitionLag(string Topic, int Partition, long Lag);
