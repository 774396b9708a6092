using System.Runtime.InteropServices;
using System.Text;

namespace Metering.DevKit.Kafka;

/// <summary>
/// An in-process Kafka cluster: librdkafka's mock cluster, which speaks the real Kafka protocol on 127.0.0.1 ports,
/// so Confluent.Kafka producers, consumer groups and offset commits (and outside clients such as kcat) work against
/// it unchanged. Used when no bootstrap servers are configured, and by the tests.
/// Limits (docs/kafka-embedded.md): data lives in memory only; a partition keeps its newest 5 MiB / 100,000 message
/// sets, older data is dropped like retention; ports are chosen by the OS.
/// Thread-safety: the methods may be called from any thread; <see cref="Dispose"/> once, after clients are closed.
/// </summary>
public sealed class EmbeddedKafkaCluster : IDisposable
{
    private IntPtr _handle;
    private IntPtr _cluster;

    /// <summary>Starts a cluster of <paramref name="brokers"/> brokers (ids 1..N).</summary>
    public EmbeddedKafkaCluster(int brokers = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        LibrdkafkaNative.EnsureLoaded();
        var conf = LibrdkafkaNative.rd_kafka_conf_new();
        var error = new byte[512];
        // The mock cluster needs a client instance to own its threads; a quiet producer handle serves.
        Set(conf, "log_level", "3", error);
        _handle = LibrdkafkaNative.rd_kafka_new(0 /* RD_KAFKA_PRODUCER */, conf, error, (nuint)error.Length);
        if (_handle == IntPtr.Zero)
        {
            throw new InvalidOperationException("embedded Kafka: rd_kafka_new failed: " + Text(error));
        }

        _cluster = LibrdkafkaNative.rd_kafka_mock_cluster_new(_handle, brokers);
        if (_cluster == IntPtr.Zero)
        {
            LibrdkafkaNative.rd_kafka_destroy(_handle);
            throw new InvalidOperationException("embedded Kafka: rd_kafka_mock_cluster_new failed");
        }

        // Kafka's (and the mock's) 3 s wait for more members before an empty group's first rebalance is paid by
        // every (re)start of a single worker: after a crash, once the dead member's session expired, the group is
        // empty again. Embedded, there is no fleet of members to wait for.
        LibrdkafkaNative.rd_kafka_mock_group_initial_rebalance_delay_ms(_cluster, 300);
        Brokers = brokers;
        BootstrapServers = Marshal.PtrToStringUTF8(LibrdkafkaNative.rd_kafka_mock_cluster_bootstraps(_cluster))
            ?? throw new InvalidOperationException("embedded Kafka: no bootstrap address");
    }

    /// <summary>The "host:port,host:port" list clients connect to.</summary>
    public string BootstrapServers { get; }

    /// <summary>Number of brokers.</summary>
    public int Brokers { get; }

    /// <summary>Creates a topic (an error naming the topic if it fails).</summary>
    public void CreateTopic(string topic, int partitions, int replicationFactor = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        Check(LibrdkafkaNative.rd_kafka_mock_topic_create(Cluster, topic, partitions, Math.Min(replicationFactor, Brokers)), $"create topic '{topic}'");
    }

    /// <summary>Takes broker <paramref name="brokerId"/> (1..N) down: its connections drop and it refuses new ones.</summary>
    public void SetBrokerDown(int brokerId) => Check(LibrdkafkaNative.rd_kafka_mock_broker_set_down(Cluster, brokerId), $"set broker {brokerId} down");

    /// <summary>Brings broker <paramref name="brokerId"/> back up.</summary>
    public void SetBrokerUp(int brokerId) => Check(LibrdkafkaNative.rd_kafka_mock_broker_set_up(Cluster, brokerId), $"set broker {brokerId} up");

    /// <summary>
    /// Delays every response of broker <paramref name="brokerId"/> by <paramref name="rtt"/> (fault injection: a
    /// coordinator that slow makes members miss their session timeout; <see cref="TimeSpan.Zero"/> restores it).
    /// </summary>
    public void SetBrokerRtt(int brokerId, TimeSpan rtt) =>
        Check(LibrdkafkaNative.rd_kafka_mock_broker_set_rtt(Cluster, brokerId, (int)rtt.TotalMilliseconds), $"set broker {brokerId} rtt");

    /// <summary>
    /// Makes the next requests of Kafka API <paramref name="apiKey"/> (e.g. 12 = Heartbeat) to any broker fail with
    /// the given Kafka error codes, one per request, in order (fault injection).
    /// </summary>
    public void PushRequestErrors(short apiKey, params int[] errorCodes)
    {
        ArgumentNullException.ThrowIfNull(errorCodes);
        LibrdkafkaNative.rd_kafka_mock_push_request_errors_array(Cluster, apiKey, (nuint)errorCodes.Length, errorCodes);
    }

    /// <summary>
    /// How long the group coordinator waits for more members before the first rebalance of an empty group (the
    /// mock's default is 3 s, like Kafka's group.initial.rebalance.delay.ms).
    /// </summary>
    public void SetGroupInitialRebalanceDelay(TimeSpan delay) =>
        LibrdkafkaNative.rd_kafka_mock_group_initial_rebalance_delay_ms(Cluster, (int)delay.TotalMilliseconds);

    /// <summary>Deletes a partition's records before <paramref name="beforeOffset"/>, as retention would (the low watermark moves).</summary>
    public void DeleteRecords(string topic, int partition, long beforeOffset) =>
        Check(LibrdkafkaNative.rd_kafka_mock_partition_delete_records(Cluster, topic, partition, beforeOffset), $"delete records of {topic}[{partition}] before {beforeOffset}");

    private IntPtr Cluster => _cluster != IntPtr.Zero ? _cluster : throw new ObjectDisposedException(nameof(EmbeddedKafkaCluster));

    private static void Check(int error, string what)
    {
        if (error != 0)
        {
            throw new InvalidOperationException($"embedded Kafka: {what} failed: {Marshal.PtrToStringUTF8(LibrdkafkaNative.rd_kafka_err2str(error))}");
        }
    }

    private static void Set(IntPtr conf, string name, string value, byte[] error)
    {
        if (LibrdkafkaNative.rd_kafka_conf_set(conf, name, value, error, (nuint)error.Length) != 0)
        {
            throw new InvalidOperationException($"embedded Kafka: {name}={value}: {Text(error)}");
        }
    }

    private static string Text(byte[] buffer)
    {
        var end = Array.IndexOf(buffer, (byte)0);
        return Encoding.UTF8.GetString(buffer, 0, end < 0 ? buffer.Length : end);
    }

    /// <summary>Stops the brokers and frees the cluster.</summary>
    public void Dispose()
    {
        if (_cluster != IntPtr.Zero)
        {
            LibrdkafkaNative.rd_kafka_mock_cluster_destroy(_cluster);
            _cluster = IntPtr.Zero;
        }

        if (_handle != IntPtr.Zero)
        {
            LibrdkafkaNative.rd_kafka_destroy(_handle);
            _handle = IntPtr.Zero;
        }
    }
}
