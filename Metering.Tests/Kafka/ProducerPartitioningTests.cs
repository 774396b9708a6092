using System.Text;
using Confluent.Kafka;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
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

    /// <summary>Kafka's <c>Utils.murmur2</c> (Java), in unsigned arithmetic.</summary>
    private static int Murmur2(byte[] data)
    {
        const uint M = 0x5bd1e995;
        unchecked
        {
            var length = data.Length;
            var h = 0x9747b28c ^ (uint)length;
            for (var i = 0; i + 4 <= length; i += 4)
            {
                var k = data[i] | ((uint)data[i + 1] << 8) | ((uint)data[i + 2] << 16) | ((uint)data[i + 3] << 24);
                k *= M;
                k ^= k >> 24;
                k *= M;
                h *= M;
                h ^= k;
            }

            var tail = length & ~3;
            switch (length % 4)
            {
                case 3:
                    h ^= (uint)data[tail + 2] << 16;
                    goto case 2;
                case 2:
                    h ^= (uint)data[tail + 1] << 8;
                    goto case 1;
                case 1:
                    h ^= data[tail];
                    h *= M;
                    break;
            }

            h ^= h >> 13;
            h *= M;
            h ^= h >> 15;
            return (int)h;
        }
    }

    private static int JavaPartition(string key, int partitions) => (Murmur2(Encoding.UTF8.GetBytes(key)) & 0x7fffffff) % partitions;

    [Fact]
    public void The_reference_murmur2_matches_the_values_of_Kafkas_own_tests()
    {
        Assert.Equal(-973932308, Murmur2("21"u8.ToArray()));
        Assert.Equal(-790332482, Murmur2("foobar"u8.ToArray()));
        Assert.Equal(-985981536, Murmur2("a-little-bit-long-string"u8.ToArray()));
        Assert.Equal(-1486304829, Murmur2("a-little-bit-longer-string"u8.ToArray()));
        Assert.Equal(-58897971, Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"u8.ToArray()));
        Assert.Equal(479470107, Murmur2("abc"u8.ToArray()));
    }

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
            if (delivered.Partition.Value != JavaPartition(account, Partitions))
            {
                wrong.Add($"{account}: partition {delivered.Partition.Value}, murmur2 says {JavaPartition(account, Partitions)}");
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
                if (r.Partition.Value != JavaPartition(m.Key, Partitions))
                {
                    wrong.Add($"{m.Key}: partition {r.Partition.Value}, murmur2 says {JavaPartition(m.Key, Partitions)}");
                }
            }
        }

        consumer.Close();
        Assert.Equal(200, seen);
        Assert.Empty(wrong);
    }
}
