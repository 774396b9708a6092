using System.Runtime.InteropServices;
using Metering.Ingest.Streaming;

namespace Metering.Ingest.Cli.Commands;

/// <summary><c>metering stream</c>: runs the streaming engine (Kafka -> PostgreSQL) until Ctrl-C / SIGTERM.</summary>
public sealed class StreamCommand : ICliCommand
{
    /// <inheritdoc />
    public IReadOnlyList<string> Name { get; } = ["stream"];

    /// <inheritdoc />
    public string Summary => "run the streaming engine: consume, aggregate, rate, flush exactly once to PostgreSQL";

    /// <inheritdoc />
    public string Usage => "usage: metering stream --bootstrap-servers HOSTS [options]\n\n" +
        "  --bootstrap-servers HOSTS  Kafka to consume from (e.g. the address 'metering broker' printed)\n" +
        "  --metrics-listen URL       serve /metrics (Prometheus) and /healthz from this process, e.g. http://0.0.0.0:9464\n" +
        "  --allow-offset-holes       do not report holes in offsets as data loss (topics with transactional producers)\n" +
        "  --dead-letter-topic NAME    where rejected records are also produced (default TOPIC.dead-letters; '' = none)\n" +
        "  --flush-interval DURATION  how often aggregates are committed (default 1s)\n" +
        "  --max-records-per-flush N  records that start a flush before the interval and make consumption wait for it (default 1000000)\n" +
        "  --pricebook FILE, --contracts FILES   price books (default examples/pricebooks/list.json when present)\n" +
        LedgerArguments.Usage + RedisArguments.Usage + Kafka.KafkaSecurity.Usage + PipelineArguments.PipelineUsage +
        "\nSIGTERM or Ctrl-C flushes and leaves the group cleanly; SIGKILL loses nothing (replay from PostgreSQL offsets).";

    /// <inheritdoc />
    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var bootstrap = args.Required("bootstrap-servers");
        var flushInterval = args.Duration("flush-interval", TimeSpan.FromSeconds(1));
        var maxRecordsPerFlush = (int)args.Int64("max-records-per-flush", 1_000_000, min: 1, max: int.MaxValue);
        var group = args.String("group", "metering")!;
        var topic = args.String("topic", "usage")!;
        var deadLetterTopic = args.String("dead-letter-topic");
        var metricsListen = args.String("metrics-listen");
        var (pipeline, _) = PipelineArguments.Pipeline(args);
        var prices = LedgerArguments.Prices(args);
        var security = Kafka.KafkaSecurity.FromArguments(args);
        args.RejectUnknown([.. LedgerArguments.Options, .. RedisArguments.Options]);
        // The listener first: a busy or malformed --metrics-listen is refused before anything else starts.
        await using var metrics = metricsListen is null ? null : await StartMetricsAsync(metricsListen, cancellationToken).ConfigureAwait(false);
        using var redis = RedisArguments.Connect(args);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        var (quotasAdded, quotasRemoved) = await Alerts.QuotaStore.SyncPriceBookQuotasAsync(db, prices, cancellationToken).ConfigureAwait(false);
        if (quotasAdded + quotasRemoved > 0)
        {
            Console.Error.WriteLine($"stream: price-book quotas synced: {quotasAdded} added, {quotasRemoved} removed");
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        var options = RedisArguments.WithRedis(new StreamingOptions
        {
            BootstrapServers = bootstrap, Topic = topic, ConsumerGroup = group, FlushInterval = flushInterval,
            MaxRecordsPerFlush = maxRecordsPerFlush, Pipeline = pipeline, KafkaSecurity = security,
            DeadLetterTopic = deadLetterTopic, AllowOffsetHoles = args.Has("allow-offset-holes"),
        }, redis, db);
        var engine = new StreamingEngine(options, db, prices);
        Console.Error.WriteLine($"stream: consuming '{topic}' as group '{group}' from {bootstrap}; flushing every {flushInterval.TotalSeconds:F1}s; Kafka {security}; Redis {(redis is null ? "none (own dedup horizon only)" : string.Join(",", redis.GetEndPoints().Select(e => e.ToString())))}");
        if (metrics is not null)
        {
            Console.Error.WriteLine($"stream: metrics at {metricsListen!.TrimEnd('/')}/metrics");
        }

        using (new ProgressReporter("stream", () => engine.Read))
        {
            await Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap().ConfigureAwait(false);
        }

        if (metrics is not null)
        {
            await metrics.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        Console.Error.WriteLine($"stream: stopped after {engine.Read:N0} records and {engine.Flushes} flushes");
        return 0;
    }

    /// <summary>Starts the /metrics server; a busy port or a bad URL is a usage error on one line (exit 2).</summary>
    private static async Task<Microsoft.AspNetCore.Builder.WebApplication> StartMetricsAsync(string listen, CancellationToken cancellationToken)
    {
        var app = Observability.MetricsExport.BuildServer(listen);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            return app;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or FormatException or ArgumentException && !cancellationToken.IsCancellationRequested)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new CliUsageException($"--metrics-listen {listen}: {e.Message.ReplaceLineEndings(" ")}", showUsage: false);
        }
    }
}
