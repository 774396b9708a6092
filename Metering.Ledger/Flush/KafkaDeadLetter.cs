namespace Metering.Ledger.Flush;

/// <summary>A dead letter from Kafka, written in the flush transaction.</summary>
public sealed record KafkaDeadLetter(int Partition, long Offset, string Reason, string Detail, byte[] Raw);
