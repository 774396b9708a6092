
namespace Metering.Ingest.Alerts;

/// <summary>Settings of the <see cref="AlertDispatcher"/>. At least one of Kafka and the webhook must be configured.</summary>
public sealed record AlertDispatcherOptions
{
    /// <summary>Kafka to produce alerts to; null = no Kafka delivery.</summary>
    public string? BootstrapServers { get; init; }

    /// <summary>The alerts topic (default "alerts").</summary>
    public string Topic { get; init; } = "alerts";

    /// <summary>Kafka authentication of the alerts producer (default plaintext).</summary>
    public Kafka.KafkaSecurity KafkaSecurity { get; init; } = Kafka.KafkaSecurity.Plaintext;

    /// <summary>Webhook that receives a POST per alert; null = no webhook delivery.</summary>
    public Uri? Webhook { get; init; }

    /// <summary>Most alerts read and delivered per round (default 100).</summary>
    public int BatchSize { get; init; } = 100;

    /// <summary>POST attempts per alert within one round (default 3), with <see cref="RetryDelay"/> doubling in between.</summary>
    public int WebhookAttemptsPerRound { get; init; } = 3;

    /// <summary>First delay between attempts within a round (default 200 ms; doubled after each).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest wait before an alert that failed a round is tried again (default 5 min; 2^attempts s below it).</summary>
    public TimeSpan MaxBackOff { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Timeout of one webhook request (default 10 s).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Fault injection: deliver a round, then stop before recording the deliveries, as a crash at that instant would
    /// (throws <see cref="SimulatedCrashException"/>). The next round delivers the same alerts again, with the same ids.
    /// </summary>
    public bool CrashBeforeMark { get; init; }
}
