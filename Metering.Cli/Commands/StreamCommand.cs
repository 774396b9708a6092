using System.Runtime.InteropServices;
using Metering.Cli.Arguments;
using Metering.Ingest.Kafka;
using Metering.Ingest.Pipeline;
using Metering.Ingest.Streaming;
using Metering.Ledger.Accounts;
using Metering.Ledger.Quotas;
using Metering.Web.Observability;
using Npgsql;

namespace Metering.Cli.Commands;

/// <summary><c>metering stream</c>: runs the streaming engine (Kafka -> PostgreSQL) until Ctrl-C / SIGTERM.</summary>
public sealed class StreamCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["stream"];

    public string Summary => "run the streaming engine: consume, aggregate, rate, flush exactly once to PostgreSQL";

    public string Usage => "usage: metering stream --bootstrap-servers HOSTS [options]\n\n" +
        "  --bootstrap-servers HOSTS  Kafka to consume from (e.g. the address 'metering broker' printed)\n" +
        "  --metrics-listen URL       serve /metrics (Prometheus) and /healthz from this process, e.g. http://0.0.0.0:9464\n" +
        "  --allow-offset-holes       do not report holes in offsets as data loss (topics with transactional producers)\n" +
        "  --start-offset zero|earliest-is-complete   a partition this group never consumed: its history starts at offset 0, so\n" +
        "                             records retention deleted before the log start are data loss (default zero); or the log start\n" +
        "                             is the whole history (a new group on an old topic whose earlier records were billed elsewhere)\n" +
        "  --instance-id ID           static group membership (group.instance.id; default the host name, the pod name in Kubernetes;\n" +
        "                             '' = dynamic): a restarted worker takes its partitions back without a rebalance. Unique per worker\n" +
        "  --session-timeout DURATION Kafka session timeout (default 6s; with a real Kafka and --instance-id, use 30s: safer under load)\n" +
        "  --startup-timeout DURATION how long start-up retries an unreachable PostgreSQL or Kafka, a line per attempt, before exit 1 (default 60s)\n" +
        "  --stall-timeout DURATION   watchdog: partitions with lag and nothing consumed this long = /healthz 503 (default 30s; 0 = off)\n" +
        "  --dead-letter-topic NAME    where rejected records are also produced (default TOPIC.dead-letters; '' = none)\n" +
        "  --flush-interval DURATION  how often aggregates are committed (default 1s)\n" +
        "  --max-records-per-flush N  records that start a flush before the interval and make consumption wait for it (default 1000000)\n" +
        LedgerArguments.RegistryUsage + LedgerArguments.Usage + RedisArguments.Usage + KafkaArguments.Usage + PipelineArguments.PipelineUsage +
        "\nSIGTERM or Ctrl-C flushes and leaves the group cleanly; SIGKILL loses nothing (replay from PostgreSQL offsets).";

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
        var startOffset = args.String("start-offset", "zero") switch
        {
            "zero" => StartOffsetPolicy.FromZero,
            "earliest-is-complete" => StartOffsetPolicy.EarliestIsComplete,
            var other => throw new CliUsageException($"--start-offset: '{other}' is not one of zero, earliest-is-complete"),
        };
        var instanceId = args.String("instance-id", Environment.MachineName);
        var sessionTimeout = args.Duration("session-timeout", TimeSpan.FromSeconds(6));
        var stallTimeout = args.Duration("stall-timeout", TimeSpan.FromSeconds(30));
        var (pipeline, _) = PipelineArguments.Pipeline(args);
        var accountRefresh = PipelineArguments.AccountRefresh(args);
        var prices = LedgerArguments.PriceFiles(args);
        var security = KafkaArguments.Security(args);
        var startupTimeout = args.Duration("startup-timeout", TimeSpan.FromSeconds(60));
        args.RejectUnknown([.. LedgerArguments.Options, .. RedisArguments.Options]);
        // The listener first: a busy or malformed --metrics-listen is refused before anything else starts. Its
        // /healthz answers for the engine's watchdog once the engine exists.
        StreamingEngine? running = null;
        await using var metrics = metricsListen is null ? null
            : await StartMetricsAsync(metricsListen, () => running is { } e ? e.Health : (true, "ok"), cancellationToken).ConfigureAwait(false);
        using var redis = RedisArguments.Connect(args);
        try
        {
            return await RunAsync(args, cancellationToken, bootstrap, flushInterval, maxRecordsPerFlush, group, topic, deadLetterTopic, metricsListen, metrics, e => running = e,
                startOffset, instanceId, sessionTimeout, stallTimeout, startupTimeout, pipeline, accountRefresh, prices, security, redis).ConfigureAwait(false);
        }
        catch (StartupFailedException e)
        {
            Console.Error.WriteLine($"stream: {e.Message}");
            return 1;
        }
        catch (NpgsqlException e) when (!StartupRetry.IsInfrastructure(e))
        {
            Console.Error.WriteLine($"stream: PostgreSQL refused: {StartupRetry.OneLine(e)}");
            return 1;
        }
    }

    private static async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken, string bootstrap, TimeSpan flushInterval, int maxRecordsPerFlush, string group, string topic,
        string? deadLetterTopic, string? metricsListen, Microsoft.AspNetCore.Builder.WebApplication? metrics, Action<StreamingEngine> started, StartOffsetPolicy startOffset, string? instanceId,
        TimeSpan sessionTimeout, TimeSpan stallTimeout, TimeSpan startupTimeout,
        AggregationPipelineOptions pipeline, TimeSpan accountRefresh, PriceBookFiles priceFiles, KafkaSecurity security, StackExchange.Redis.IConnectionMultiplexer? redis)
    {
        // Infrastructure at start-up (PostgreSQL starting, shutting down or unreachable; Kafka unreachable) is
        // retried for --startup-timeout, one line per attempt, then exit 1 with one line.
        await using var db = await StartupRetry.RunAsync("PostgreSQL", ct => LedgerArguments.OpenAsync(args, ct), startupTimeout, Console.Error, cancellationToken).ConfigureAwait(false);
        await StartupRetry.RunAsync("Kafka", _ => Task.Run(() => StartupRetry.CheckKafka(bootstrap, security), CancellationToken.None), startupTimeout, Console.Error, cancellationToken).ConfigureAwait(false);
        // The registry: the files published first, then the catalog that follows publishes (docs/pricebooks.md).
        await using var prices = await StartupRetry.RunAsync("PostgreSQL", ct => LedgerArguments.RegistrySourceAsync(db, priceFiles, Console.Error, ct), startupTimeout, Console.Error, cancellationToken).ConfigureAwait(false);
        var (quotasAdded, quotasRemoved) = await StartupRetry.RunAsync("PostgreSQL", ct => QuotaStore.SyncPriceBookQuotasAsync(db, prices.Current, ct), startupTimeout, Console.Error, cancellationToken).ConfigureAwait(false);
        if (quotasAdded + quotasRemoved > 0)
        {
            Console.Error.WriteLine($"stream: price-book quotas synced: {quotasAdded} added, {quotasRemoved} removed");
        }

        // The accounts that exist: reject refuses the others; auto creates them in the flush (and skips the known ones).
        await using var accounts = await StartupRetry.RunAsync("PostgreSQL", ct => AccountDirectory.StartAsync(db, accountRefresh, Console.Error, ct,
            pipeline.UnknownAccounts == Aggregates.Admission.UnknownAccountPolicy.Reject ? AccountDirectory.EngineConfirmsPerSecond : 0), startupTimeout, Console.Error, cancellationToken).ConfigureAwait(false);
        Console.Error.WriteLine($"stream: unknown accounts {(pipeline.UnknownAccounts == Aggregates.Admission.UnknownAccountPolicy.Reject ? "rejected (unknown_account)" : FirstUsageAccounts.CannotCreate(prices.Current) is { } why ? $"accepted, none created ({why})" : "accepted and created on the list book")}; {accounts.Count:N0} accounts, reloaded on NOTIFY and every {accountRefresh.TotalSeconds:0.#}s");
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
            DeadLetterTopic = deadLetterTopic, Accounts = accounts, AllowOffsetHoles = args.Has("allow-offset-holes"), StartOffset = startOffset,
            InstanceId = string.IsNullOrEmpty(instanceId) ? null : instanceId, SessionTimeout = sessionTimeout, StallTimeout = stallTimeout, StartupTimeout = startupTimeout,
        }, redis, db);
        var engine = StreamingEngine.Rating(options, db, prices);
        started(engine);
        Console.Error.WriteLine($"stream: consuming '{topic}' as group '{group}'{(options.InstanceId is null ? "" : $" (instance '{options.InstanceId}')")} from {bootstrap}; flushing every {flushInterval.TotalSeconds:F1}s; Kafka {security}; Redis {(redis is null ? "none (own dedup horizon only)" : string.Join(",", redis.GetEndPoints().Select(e => e.ToString())))}");
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
    private static async Task<Microsoft.AspNetCore.Builder.WebApplication> StartMetricsAsync(string listen, Func<(bool Healthy, string Detail)> health, CancellationToken cancellationToken)
    {
        var app = MetricsExport.BuildServer(listen, health: health);
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
