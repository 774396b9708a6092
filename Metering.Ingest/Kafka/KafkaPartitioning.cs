using Confluent.Kafka;

namespace Metering.Ingest.Kafka;

/// <summary>
/// The partitioning contract of every producer the engine creates (HTTP edge, workload producer, dead letters,
/// alerts, benchmarks): murmur2 of the key, positive(murmur2(key)) % partitions, as Java's and kafkajs' default
/// partitioners compute it, so an account's records land on one partition whichever client produced them
/// (docs/api.md). librdkafka's own default (CRC32) would put the same key on a different partition. Keyless
/// messages go to a random partition.
/// </summary>
public static class KafkaPartitioning
{
    /// <summary>The partitioner of the contract.</summary>
    public const Partitioner Partitioner = Confluent.Kafka.Partitioner.Murmur2Random;

    /// <summary>Sets the contract's partitioner on <paramref name="config"/> and returns it.</summary>
    public static ProducerConfig Apply(ProducerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Partitioner = Partitioner;
        return config;
    }
}
