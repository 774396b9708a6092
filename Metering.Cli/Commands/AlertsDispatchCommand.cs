using System.Runtime.InteropServices;
using Metering.Cli.Arguments;
using Metering.Ingest.Alerts;
using Metering.Ledger;
using Npgsql;
using Metering.Web.Observability;

namespace Metering.Cli.Commands;

/// <summary><c>metering alerts dispatch</c>: delivers the alerts outbox to Kafka and/or a webhook, at least once.</summary>
public sealed class AlertsDispatchCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["alerts", "dispatch"];

    public string Summary => "deliver quota alerts (at least once, each with a stable id) to the alerts topic and a webhook";

    public string Usage => "usage: metering alerts dispatch [--bootstrap-servers HOSTS] [--alerts-topic T] [--webhook URL] [--once] [ledger options]\n\n" +
        "  --bootstrap-servers HOSTS  Kafka to produce alerts to (idempotent producer, acks=all, key = account)\n" +
        "  --alerts-topic NAME        the alerts topic (default alerts)\n" +
        "  --webhook URL              POST each alert as JSON to URL (header Metering-Alert-Id; any 2xx = delivered)\n" +
        "  --once                     deliver what is due once and exit (exit 1 if an alert stays undelivered)\n" +
        "  --interval DURATION        pause between rounds when nothing is due (default 1s)\n" +
        "  --batch N                  alerts per round (default 100)\n" +
        MetricsArguments.Usage +
        "                             (not with --once); /readyz: 200 while PostgreSQL (the alerts outbox) answers\n" +
        KafkaArguments.Usage + LedgerArguments.Usage +
        "\nAt least one of --bootstrap-servers and --webhook is required. Receivers dedup by the alert id: a crash between a\n" +
        "delivery and its record re-sends it. SIGTERM or Ctrl-C stops after the current round.";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var bootstrap = args.String("bootstrap-servers");
        var security = KafkaArguments.Security(args);
        var topic = args.String("alerts-topic", "alerts")!;
        var webhookText = args.String("webhook");
        var once = args.Has("once");
        var interval = args.Duration("interval", TimeSpan.FromSeconds(1));
        var batch = (int)args.Int64("batch", 100, min: 1, max: 10_000);
        Uri? webhook = null;
        if (webhookText is not null && (!Uri.TryCreate(webhookText, UriKind.Absolute, out webhook) || webhook.Scheme is not ("http" or "https")))
        {
            throw new CliUsageException($"--webhook expects an absolute http(s) URL, got '{webhookText}'");
        }

        if (bootstrap is null && webhook is null)
        {
            throw new CliUsageException("give --bootstrap-servers, --webhook or both (or METERING_BOOTSTRAP_SERVERS / METERING_WEBHOOK): otherwise alerts go nowhere");
        }

        var metricsListen = MetricsArguments.Listen(args, continuous: !once);
        args.RejectUnknown(LedgerArguments.Options);
        NpgsqlDataSource? ledger = null;
        // The listener first: a busy port is refused before PostgreSQL or Kafka is touched.
        await using var metrics = metricsListen is null ? null
            : await MetricsArguments.StartAsync(metricsListen, health: null, ready: ct => LedgerReadyAsync(ledger, ct), cancellationToken).ConfigureAwait(false);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        var options = new AlertDispatcherOptions { BootstrapServers = bootstrap, Topic = topic, Webhook = webhook, BatchSize = batch, KafkaSecurity = security };
        using var dispatcher = new AlertDispatcher(db, options);
        ledger = db;
        AlertDispatchMetrics.Observe(() => (dispatcher.Rounds, dispatcher.FailedRounds));
        var targets = string.Join(" and ", new[] { bootstrap is null ? null : $"Kafka topic '{topic}' at {bootstrap}", webhook is null ? null : $"webhook {webhook}" }.Where(t => t is not null));
        if (once)
        {
            var total = new DispatchResult();
            while (true)
            {
                var round = await dispatcher.DispatchOnceAsync(cancellationToken).ConfigureAwait(false);
                total = new DispatchResult(total.Alerts + round.Alerts, total.KafkaDelivered + round.KafkaDelivered, total.WebhookDelivered + round.WebhookDelivered, total.Failed + round.Failed);
                if (round.Alerts < batch || round.Failed > 0)
                {
                    break;
                }
            }

            Console.Out.WriteLine($"alerts: {total.Alerts} due, {total.KafkaDelivered} to Kafka, {total.WebhookDelivered} to the webhook, {total.Failed} not delivered (retried later) -> {targets}");
            return total.Failed > 0 ? 1 : 0;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        Console.Error.WriteLine($"alerts: dispatching to {targets} every {interval.TotalSeconds:F1}s{(metrics is null ? "" : $"; metrics, /healthz and /readyz at {string.Join(", ", metrics.Urls)}")}");
        await dispatcher.RunAsync(interval, stop.Token).ConfigureAwait(false);
        Console.Error.WriteLine($"alerts: stopped after {dispatcher.Rounds} rounds ({dispatcher.FailedRounds} failed)");
        return 0;
    }

    /// <summary>Readiness of the dispatcher: the alerts outbox (PostgreSQL) answers within 2 s.</summary>
    private static async Task<(bool Ready, string Detail)> LedgerReadyAsync(NpgsqlDataSource? db, CancellationToken cancellationToken)
    {
        if (db is null)
        {
            return (false, "starting");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            return await LedgerHealth.PingAsync(db, timeout.Token).ConfigureAwait(false) ? (true, "ok") : (false, "PostgreSQL did not answer");
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException or ObjectDisposedException)
        {
            return (false, "PostgreSQL: " + e.Message);
        }
    }
}
