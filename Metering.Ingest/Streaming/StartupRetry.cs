using System.Diagnostics;
using System.Net.Sockets;
using Confluent.Kafka;
using Npgsql;

namespace Metering.Ingest.Streaming;

/// <summary>
/// Start-up steps that touch infrastructure (PostgreSQL connecting or shutting down, Kafka brokers unreachable) are
/// retried with back-off (0.5 s doubling to 5 s) for a bounded time, one line per failed attempt; then a
/// <see cref="StartupFailedException"/> with one line of explanation (the CLI exits 1 with it, never a stack trace).
/// Only infrastructure faults are retried: a wrong password, a missing database or a bad option fails at once.
/// </summary>
public static class StartupRetry
{
    /// <summary>Runs <paramref name="attempt"/> until it succeeds, a non-transient error occurs, or <paramref name="budget"/> is spent.</summary>
    public static async Task<T> RunAsync<T>(string what, Func<CancellationToken, Task<T>> attempt, TimeSpan budget, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        ArgumentNullException.ThrowIfNull(log);
        var clock = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(500);
        for (var n = 1; ; n++)
        {
            try
            {
                return await attempt(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsInfrastructure(e) && !cancellationToken.IsCancellationRequested)
            {
                var reason = OneLine(e);
                var last = clock.Elapsed + delay > budget;
                log.WriteLine($"stream: {what} not reachable (attempt {n}, {clock.Elapsed.TotalSeconds:F1} s of {budget.TotalSeconds:F0} s): {reason}{(last ? "" : $"; retrying in {delay.TotalSeconds:F1} s")}");
                if (last)
                {
                    throw new StartupFailedException($"{what} still not reachable after {clock.Elapsed.TotalSeconds:F0} s and {n} attempts; giving up", e);
                }

                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    /// <summary>Runs <paramref name="attempt"/> as <see cref="RunAsync{T}"/> does.</summary>
    public static Task RunAsync(string what, Func<CancellationToken, Task> attempt, TimeSpan budget, TextWriter log, CancellationToken cancellationToken) =>
        RunAsync(what, async ct =>
        {
            await attempt(ct).ConfigureAwait(false);
            return true;
        }, budget, log, cancellationToken);

    /// <summary>
    /// Asks the brokers for cluster metadata: Kafka clients otherwise retry silently forever, so an unreachable
    /// cluster would look like an idle topic.
    /// </summary>
    public static void CheckKafka(string bootstrapServers, Kafka.KafkaSecurity security)
    {
        ArgumentNullException.ThrowIfNull(security);
        using var admin = new AdminClientBuilder(security.Apply(new AdminClientConfig { BootstrapServers = bootstrapServers, SocketTimeoutMs = 3_000 }))
            .SetLogHandler((_, _) => { }) // the attempt line says it once; librdkafka would repeat it per broker
            .Build();
        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(3));
        if (metadata.Brokers.Count == 0)
        {
            throw new KafkaException(new Error(ErrorCode.Local_AllBrokersDown, $"no broker of {bootstrapServers} answered"));
        }
    }

    /// <summary>True for faults of the infrastructure (retry), false for errors of configuration or data (fail).</summary>
    public static bool IsInfrastructure(Exception e) => e switch
    {
        NpgsqlException n => n.IsTransient,
        KafkaException k => !k.Error.IsFatal && k.Error.Code is not (ErrorCode.SaslAuthenticationFailed or ErrorCode.TopicAuthorizationFailed or ErrorCode.GroupAuthorizationFailed or ErrorCode.ClusterAuthorizationFailed or ErrorCode.Local_Authentication),
        SocketException or TimeoutException or IOException => true,
        _ => e.InnerException is { } inner && IsInfrastructure(inner),
    };

    /// <summary>The exception's message on one line (the innermost useful part).</summary>
    public static string OneLine(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var text = e is PostgresException p ? $"{p.SqlState}: {p.MessageText}" : e.InnerException is { } inner && e is NpgsqlException && e.Message.StartsWith("Exception while", StringComparison.Ordinal) ? $"{e.Message} ({inner.Message})" : e.Message;
        return text.ReplaceLineEndings(" ");
    }
}
