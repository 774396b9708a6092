using Confluent.Kafka;
using Metering.Cli;

namespace Metering.Tests.Kafka;

public class BrokerCommandTests
{
    [Fact]
    public async Task Broker_command_serves_a_topic_that_another_client_can_use_and_stops_on_cancel()
    {
        var bootstrapFile = Path.GetTempFileName();
        File.Delete(bootstrapFile);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var broker = Task.Run(() => Program.RunAsync(["broker", "--partitions", "4", "--topic", "cmdtest", "--bootstrap-file", bootstrapFile], TextWriter.Null, TextWriter.Null, stop.Token));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!File.Exists(bootstrapFile) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        var bootstrap = (await File.ReadAllTextAsync(bootstrapFile)).Trim();
        Assert.Matches(@"^127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+)*$", bootstrap);
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All }).Build())
        {
            var result = await producer.ProduceAsync("cmdtest", new Message<string, string> { Key = "a", Value = "hello" });
            Assert.Equal(PersistenceStatus.Persisted, result.Status);
        }

        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build())
        {
            var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
            Assert.Equal(4, metadata.Topics.Single(t => t.Topic == "cmdtest").Partitions.Count);
            Assert.Contains(metadata.Topics, t => t.Topic == "cmdtest.dead-letters");
        }

        await stop.CancelAsync();
        Assert.Equal(0, await broker);
        File.Delete(bootstrapFile);
    }
}
