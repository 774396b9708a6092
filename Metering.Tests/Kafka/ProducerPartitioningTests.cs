using System.Text;
using Confluent.Kafka;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.UnitTests.Kafka;
using Metering.Web.HttpIngest;

namespace Metering.Tests.Kafka;

/// <summary>
/// The engine's producers put a key on the partition Java's and kafkajs' default partitioner would choose:
/// positive(murmur2(key)) % partitions, computed here independently of librdkafka.
/// </summary>
public sealed class ProducerPartitioningTests : IDisposable
{
    private const int Partitions = 12;
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task A_key_produced_by_the_http_edge_lands_on_the_partition_murmur2_predicts()
    {
        _kafka.CreateTopic("partitioning-edge", Partitions);
        using var edge = new HttpIngestService(new HttpIngestOptions { BootstrapServers = _kafka.BootstrapServers, Topic = "partitioning-edge" });
        var wrong = new List<string>();
        for (var i = 0; i < 200; i++)
        {
            var account = $"acct-{i}";
            var delivered = await edge.Producer.ProduceAsync("partitioning-edge", new Message<string?, byte[]> { Key = account, Value = [] });
            if (delivered.Partition.Value != ReferenceMurmur2.JavaPartition(account, Partitions))
            {
                wrong.Add($"{account}: partition {delivered.Partition.Value}, murmur2 says {ReferenceMurmur2.JavaPartition(account, Partitions)}");
            }
        }

        Assert.Empty(wrong);
    }

    [Fact]
    public async Task An_account_produced_by_the_workload_producer_lands_on_the_partition_murmur2_predicts()
    {
        _kafka.CreateTopic("partitioning-workload", Partitions);
        var lines = new StringBuilder();
        for (var i = 0; i < 200; i++)
        {
            lines.Append("{\"id\":\"e-").Append(i).Append("\",\"account\":\"tenant-").Append(i).Append("\",\"sku\":\"api.calls\",\"quantity\":\"1\",\"time\":\"2026-01-01T00:00:00Z\"}\n");
        }

        Assert.Equal(200, await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, "partitioning-workload", new MemoryStream(Encoding.UTF8.GetBytes(lines.ToString())), null, CancellationToken.None));
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = _kafka.BootstrapServers, GroupId = "partitioning-reader", AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
        consumer.Subscribe("partitioning-workload");
        var wrong = new List<string>();
        var seen = 0;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (seen < 200 && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { Message: { } m } r)
            {
                seen++;
                if (r.Partition.Value != ReferenceMurmur2.JavaPartition(m.Key, Partitions))
                {
                    wrong.Add($"{m.Key}: partition {r.Partition.Value}, murmur2 says {ReferenceMurmur2.JavaPartition(m.Key, Partitions)}");
                }
            }
        }

        consumer.Close();
        Assert.Equal(200, seen);
        Assert.Empty(wrong);
    }
}
