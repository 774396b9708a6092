using System.Runtime.InteropServices;
using Metering.Cli.Arguments;
using Metering.DevKit.Kafka;

namespace Metering.Cli.Commands;

/// <summary>
/// <c>metering broker</c>: runs the embedded Kafka broker (librdkafka's mock cluster) as a process of its own, so
/// engines, load generators and outside clients (kcat) in other processes share one broker, and an engine can be
/// killed and restarted while the broker keeps the topic.
/// </summary>
public sealed class BrokerCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["broker"];

    public string Summary => "run the embedded Kafka broker (mock cluster) until Ctrl-C / SIGTERM";

    public string Usage => "usage: metering broker [--brokers N] [--topic NAME] [--partitions N] [--bootstrap-file FILE]\n\n" +
        "  --brokers N                brokers in the cluster (default 3)\n" +
        "  --topic NAME               topic to create (default usage; also NAME.dead-letters)\n" +
        "  --partitions N             partitions of the topic (default 32)\n" +
        "  --bootstrap-file FILE      also write the bootstrap address to FILE (for scripts)\n" +
        "\nprints 'bootstrap: HOST:PORT,...' on stdout once ready. Ports are chosen by the OS (the mock cluster\n" +
        "cannot bind fixed ports); pass the printed address, or the file, to other processes.";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var brokers = (int)args.Int64("brokers", 3, 1, 16);
        var topic = args.String("topic", "usage")!;
        var partitions = (int)args.Int64("partitions", 32, 1, 1024);
        var bootstrapFile = args.String("bootstrap-file");
        args.RejectUnknown();

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        using var cluster = new EmbeddedKafkaCluster(brokers);
        cluster.CreateTopic(topic, partitions, Math.Min(3, brokers));
        cluster.CreateTopic(topic + ".dead-letters", Math.Min(partitions, 8), Math.Min(3, brokers));
        if (bootstrapFile is not null)
        {
            // Written aside and renamed: a script polling for the file never reads it half written.
            var partial = bootstrapFile + ".partial";
            await File.WriteAllTextAsync(partial, cluster.BootstrapServers + "\n", cancellationToken).ConfigureAwait(false);
            File.Move(partial, bootstrapFile, overwrite: true);
        }

        Console.Out.WriteLine($"bootstrap: {cluster.BootstrapServers}");
        Console.Out.Flush();
        Console.Error.WriteLine($"broker: {brokers} broker(s), topic '{topic}' with {partitions} partitions and '{topic}.dead-letters'; Ctrl-C or SIGTERM stops it");
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // the normal way out
        }

        Console.Error.WriteLine("broker: stopped");
        return 0;
    }
}
