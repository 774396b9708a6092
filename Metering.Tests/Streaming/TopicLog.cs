using Confluent.Kafka;
using Metering.DevKit.Workload;

namespace Metering.Tests.Streaming;

/// <summary>
/// What the topic's log actually holds, to compare the ledger with. A producer retry under heavy load can append a
/// message twice (seen with the mock cluster while the machine was saturated); the engine then reads it twice and
/// must count the second copy as a duplicate. The ground truth describes the file, not the log, so it is extended by
/// the extra copies: read and duplicates grow by the same number, and every total must still match exactly.
/// Fewer messages than the file's lines would be lost data and is returned as is, to fail the comparison.
/// </summary>
internal static class TopicLog
{
    public static long Messages(string bootstrapServers, string topic)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers }).Build();
        var partitions = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Single().Partitions.Count;
        using var probe = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrapServers, GroupId = "topic-log-probe" }).Build();
        long messages = 0;
        for (var p = 0; p < partitions; p++)
        {
            var marks = probe.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10));
            messages += marks.High.Value - marks.Low.Value;
        }

        return messages;
    }

    public static GroundTruth Expected(GroundTruth truth, string bootstrapServers, string topic, int copies = 1)
    {
        var extra = Messages(bootstrapServers, topic) - (truth.Read * copies);
        if (extra <= 0)
        {
            return truth;
        }

        var expected = new GroundTruth { Read = truth.Read + extra, Accepted = truth.Accepted, Duplicates = truth.Duplicates + extra, Totals = truth.Totals };
        foreach (var (reason, count) in truth.Rejected)
        {
            expected.Rejected[reason] = count;
        }

        return expected;
    }
}
