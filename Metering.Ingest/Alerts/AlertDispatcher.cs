using System.Globalization;
using System.Net.Http.Headers;
using Confluent.Kafka;
using Metering.Ledger.Quotas;
using Npgsql;

namespace Metering.Ingest.Alerts;

/// <summary>
/// Delivers the <c>alerts</c> outbox at least once: reads alerts not yet delivered, produces each to the alerts topic
/// (idempotent producer, acks=all, key = account, value = <see cref="Alert.ToJson"/>, header Metering-Alert-Id) and
/// POSTs it to the webhook (JSON body, header <c>Metering-Alert-Id</c>, any 2xx = delivered), then records
/// delivered_kafka_at / delivered_webhook_at. A crash after a delivery and before its record re-sends the alert with
/// the same id (receivers dedup by it). Failures count in <c>attempts</c>, keep <c>last_error</c>, and back off
/// exponentially between rounds (<c>next_attempt_at</c>). Run one dispatcher per ledger; two would only send more
/// duplicates. Not thread-safe: one round at a time.
/// </summary>
public sealed class AlertDispatcher : IDisposable
{
    /// <summary>The header (Kafka and HTTP) that carries the alert id.</summary>
    public const string AlertIdHeader = "Metering-Alert-Id";

    private readonly NpgsqlDataSource _db;
    private readonly AlertDispatcherOptions _options;
    private readonly IProducer<string, byte[]>? _producer;
    private readonly HttpClient? _http;
    private readonly bool _ownsHttp;

    /// <summary>Creates a dispatcher over a migrated ledger; <paramref name="http"/> defaults to a client of its own.</summary>
    public AlertDispatcher(NpgsqlDataSource db, AlertDispatcherOptions options, HttpClient? http = null)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(options);
        if (options.BootstrapServers is null && options.Webhook is null)
        {
            throw new ArgumentException("configure Kafka (bootstrap servers) or a webhook, or both: otherwise alerts go nowhere", nameof(options));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.WebhookAttemptsPerRound, 1);
        _db = db;
        _options = options;
        if (options.BootstrapServers is not null)
        {
            _producer = new ProducerBuilder<string, byte[]>(options.KafkaSecurity.Apply(Kafka.KafkaPartitioning.Apply(new ProducerConfig
            {
                BootstrapServers = options.BootstrapServers,
                EnableIdempotence = true,
                Acks = Acks.All,
                MessageTimeoutMs = 30_000,
                LingerMs = 5,
            }))).Build();
        }

        if (options.Webhook is not null)
        {
            _ownsHttp = http is null;
            _http = http ?? new HttpClient { Timeout = options.RequestTimeout };
        }
    }

    /// <summary>Rounds completed.</summary>
    public long Rounds { get; private set; }

    /// <summary>Rounds that failed as a whole (e.g. PostgreSQL unreachable); retried after the interval.</summary>
    public long FailedRounds { get; private set; }

    /// <summary>Runs rounds until cancelled: back to back while full batches come, else every <paramref name="interval"/>.</summary>
    public async Task RunAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var full = false;
            try
            {
                var result = await DispatchOnceAsync(cancellationToken).ConfigureAwait(false);
                full = result.Alerts >= _options.BatchSize;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or KafkaException)
            {
                FailedRounds++;
                Console.Error.WriteLine($"alerts: round failed, retrying in {interval.TotalSeconds:F1}s: {e.Message}");
            }

            if (!full)
            {
                try
                {
                    await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>One round: delivers up to <see cref="AlertDispatcherOptions.BatchSize"/> due alerts, then records the outcome.</summary>
    public async Task<DispatchResult> DispatchOnceAsync(CancellationToken cancellationToken)
    {
        var pending = await AlertOutbox.LoadDueAsync(_db, _producer is not null, _http is not null, _options.BatchSize, cancellationToken).ConfigureAwait(false);
        if (pending.Count == 0)
        {
            return default;
        }

        var outcomes = new Outcome[pending.Count];
        var bodies = new byte[pending.Count][];
        for (var i = 0; i < pending.Count; i++)
        {
            bodies[i] = pending[i].Alert.ToJson();
            outcomes[i] = new Outcome();
        }

        if (_producer is not null)
        {
            await ProduceAsync(pending, bodies, outcomes).ConfigureAwait(false);
        }

        if (_http is not null)
        {
            for (var i = 0; i < pending.Count; i++)
            {
                if (pending[i].NeedsWebhook)
                {
                    await PostAsync(pending[i].Alert, bodies[i], outcomes[i], cancellationToken).ConfigureAwait(false);
                }
            }
        }

        for (var i = 0; i < pending.Count; i++)
        {
            outcomes[i].Failed = (pending[i].NeedsKafka && !outcomes[i].Kafka) || (pending[i].NeedsWebhook && !outcomes[i].Webhook);
        }

        if (_options.CrashBeforeMark)
        {
            throw new SimulatedCrashException($"simulated crash after delivering {pending.Count} alert(s), before recording them");
        }

        // One statement for the round. A channel that failed keeps its delivered_* null; the alert backs off.
        var deliveries = new AlertDelivery[pending.Count];
        for (var i = 0; i < pending.Count; i++)
        {
            var o = outcomes[i];
            deliveries[i] = new AlertDelivery(pending[i].Alert.Id, o.Kafka, o.Webhook, o.Attempts, o.Error, o.Failed);
        }

        await AlertOutbox.MarkAsync(_db, deliveries, _options.MaxBackOff, cancellationToken).ConfigureAwait(false);
        Rounds++;
        return new DispatchResult(pending.Count, outcomes.Count(o => o.Kafka), outcomes.Count(o => o.Webhook), outcomes.Count(o => o.Failed));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_producer is not null)
        {
            _producer.Flush(TimeSpan.FromSeconds(5));
            _producer.Dispose();
        }

        if (_ownsHttp)
        {
            _http!.Dispose();
        }
    }

    private sealed class Outcome
    {
        public bool Kafka;
        public bool Webhook;
        public int Attempts;
        public string? Error;
        public bool Failed;
    }

    private async Task ProduceAsync(IReadOnlyList<DueAlert> pending, byte[][] bodies, Outcome[] outcomes)
    {
        // All at once (the producer batches them); each acknowledgement is awaited before it is recorded.
        var sends = new List<(int Index, Task<DeliveryResult<string, byte[]>> Task)>();
        for (var i = 0; i < pending.Count; i++)
        {
            if (!pending[i].NeedsKafka)
            {
                continue;
            }

            var alert = pending[i].Alert;
            var message = new Message<string, byte[]>
            {
                Key = alert.Account,
                Value = bodies[i],
                Headers = new Headers { { AlertIdHeader, System.Text.Encoding.ASCII.GetBytes(alert.Id.ToString("D")) } },
            };
            outcomes[i].Attempts++;
            sends.Add((i, _producer!.ProduceAsync(_options.Topic, message)));
        }

        foreach (var (index, task) in sends)
        {
            try
            {
                var result = await task.ConfigureAwait(false);
                outcomes[index].Kafka = result.Status == PersistenceStatus.Persisted;
                if (!outcomes[index].Kafka)
                {
                    outcomes[index].Error = $"kafka: delivery not confirmed ({result.Status})";
                }
            }
            catch (ProduceException<string, byte[]> e)
            {
                outcomes[index].Error = "kafka: " + e.Error.Reason;
            }
        }
    }

    private async Task PostAsync(Alert alert, byte[] body, Outcome outcome, CancellationToken cancellationToken)
    {
        var delay = _options.RetryDelay;
        for (var attempt = 1; attempt <= _options.WebhookAttemptsPerRound; attempt++)
        {
            outcome.Attempts++;
            string error;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, _options.Webhook) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                request.Headers.Add(AlertIdHeader, alert.Id.ToString("D"));
                using var response = await _http!.SendAsync(request, cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    outcome.Webhook = true;
                    return;
                }

                error = string.Create(CultureInfo.InvariantCulture, $"webhook: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }
            catch (HttpRequestException e)
            {
                error = "webhook: " + e.Message;
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                error = $"webhook: no answer within {_options.RequestTimeout.TotalSeconds:F0}s";
            }

            outcome.Error = outcome.Error is null || outcome.Error.StartsWith("webhook", StringComparison.Ordinal) ? error : outcome.Error + "; " + error;
            if (attempt < _options.WebhookAttemptsPerRound)
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay *= 2;
            }
        }
    }
}
