using Confluent.Kafka;
using Metering.DevKit.Kafka;

namespace Metering.Tests.Kafka;

public sealed class EmbeddedKafkaClusterTests : IDisposable
{
    private readonly EmbeddedKafkaCluster _cluster = new(brokers: 3);

    public void Dispose() => _cluster.Dispose();

    private IProducer<string, string> Producer() => new ProducerBuilder<string, string>(new ProducerConfig
    {
        BootstrapServers = _cluster.BootstrapServers,
        EnableIdempotence = true,
        Acks = Acks.All,
        CompressionType = CompressionType.Lz4,
        LingerMs = 5,
        // A produce request in flight when a broker goes down can go unanswered; librdkafka then waits the whole
        // request timeout (30 s by default, as long as the old message timeout) before it retries, so on a loaded
        // machine the retry never came before the message expired. A short request timeout and a long message
        // timeout keep the test about delivery after the outage, not about librdkafka's default timers.
        RequestTimeoutMs = 5_000,
        ReconnectBackoffMaxMs = 1_000,
        MessageTimeoutMs = 90_000,
    }).Build();

    private IConsumer<string, string> Consumer(string group) => new ConsumerBuilder<string, string>(new ConsumerConfig
    {
        BootstrapServers = _cluster.BootstrapServers,
        GroupId = group,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        EnableAutoCommit = false,
        SessionTimeoutMs = 6_000,
        HeartbeatIntervalMs = 500,
        PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
    }).Build();

    private static async Task ProduceAsync(IProducer<string, string> producer, string topic, int from, int count)
    {
        var tasks = new List<Task<DeliveryResult<string, string>>>();
        for (var i = from; i < from + count; i++)
        {
            tasks.Add(producer.ProduceAsync(topic, new Message<string, string> { Key = "acct-" + (i % 17), Value = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }));
        }

        var results = await Task.WhenAll(tasks);
        Assert.All(results, r => Assert.Equal(PersistenceStatus.Persisted, r.Status));
    }

    private static List<ConsumeResult<string, string>> ConsumeUntil(IConsumer<string, string> consumer, int count, TimeSpan timeout)
    {
        var results = new List<ConsumeResult<string, string>>();
        var deadline = DateTime.UtcNow + timeout;
        while (results.Count < count && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is { IsPartitionEOF: false })
            {
                results.Add(r);
            }
        }

        return results;
    }

    [Fact]
    public async Task A_consumer_group_reads_back_every_message_in_key_order()
    {
        _cluster.CreateTopic("usage", partitions: 4, replicationFactor: 3);
        using (var producer = Producer())
        {
            await ProduceAsync(producer, "usage", 0, 2_000);
        }

        using var consumer = Consumer("g1");
        consumer.Subscribe("usage");
        var read = ConsumeUntil(consumer, 2_000, TimeSpan.FromSeconds(30));
        consumer.Close();

        Assert.Equal(2_000, read.Count);
        Assert.Equal(Enumerable.Range(0, 2_000), read.Select(r => int.Parse(r.Message.Value, System.Globalization.CultureInfo.InvariantCulture)).Order());
        foreach (var byKey in read.GroupBy(r => r.Message.Key))
        {
            Assert.Single(byKey.Select(r => r.Partition.Value).Distinct()); // a key lives in one partition
            var values = byKey.Select(r => int.Parse(r.Message.Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(values.Order(), values); // in production order
        }
    }

    [Fact]
    public async Task Committed_offsets_let_a_restarted_consumer_resume_after_them()
    {
        _cluster.CreateTopic("resume", partitions: 2);
        using var producer = Producer();
        await ProduceAsync(producer, "resume", 0, 300);
        using (var first = Consumer("g2"))
        {
            first.Subscribe("resume");
            var read = ConsumeUntil(first, 300, TimeSpan.FromSeconds(30));
            Assert.Equal(300, read.Count);
            first.Commit(read.GroupBy(r => r.TopicPartition).Select(g => new TopicPartitionOffset(g.Key, g.Max(r => r.Offset.Value) + 1)));
            first.Close();
        }

        await ProduceAsync(producer, "resume", 300, 100);
        using var second = Consumer("g2");
        second.Subscribe("resume");
        var rest = ConsumeUntil(second, 100, TimeSpan.FromSeconds(30));
        second.Close();
        Assert.Equal(Enumerable.Range(300, 100), rest.Select(r => int.Parse(r.Message.Value, System.Globalization.CultureInfo.InvariantCulture)).Order());
    }

    [Fact]
    public async Task Messages_produced_while_a_broker_is_down_are_delivered_once_it_is_back()
    {
        _cluster.CreateTopic("outage", partitions: 3, replicationFactor: 1);
        using var producer = Producer();
        await ProduceAsync(producer, "outage", 0, 100);
        _cluster.SetBrokerDown(1);
        var during = ProduceAsync(producer, "outage", 100, 200);
        await Task.Delay(TimeSpan.FromSeconds(2));
        _cluster.SetBrokerUp(1);
        await during;

        using var consumer = Consumer("g3");
        consumer.Subscribe("outage");
        var read = ConsumeUntil(consumer, 300, TimeSpan.FromSeconds(30));
        consumer.Close();
        Assert.Equal(Enumerable.Range(0, 300), read.Select(r => int.Parse(r.Message.Value, System.Globalization.CultureInfo.InvariantCulture)).Order());
    }
}
