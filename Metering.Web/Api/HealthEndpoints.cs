using Metering.Analytics;
using Metering.Ledger;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace Metering.Web.Api;

/// <summary><c>/healthz</c> (liveness, anonymous) and <c>/readyz</c> (PostgreSQL, usage store, Kafka; anonymous).</summary>
internal static class HealthEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        // Probes are never rate limited: a throttled liveness probe would restart a pod that is only busy.
        app.MapGet("/healthz", () => TypedResults.Ok(new LivenessResponse("ok")))
            .AllowAnonymous()
            .DisableRateLimiting()
            .WithName("Liveness")
            .WithTags("health")
            .WithSummary("Liveness: 200 while the process serves requests (anonymous).");
        app.MapGet("/readyz", Ready)
            .AllowAnonymous()
            .DisableRateLimiting()
            .WithName("Readiness")
            .WithTags("health")
            .WithSummary("Readiness: 200 when PostgreSQL, the usage store and Kafka (when configured) answer; 503 problem naming the failed dependencies (anonymous).")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<Results<Ok<ReadinessResponse>, ProblemHttpResult>> Ready(NpgsqlDataSource db, IUsageStore store, ApiOptions options, CancellationToken cancellationToken)
    {
        var postgres = Check(ct => LedgerHealth.PingAsync(db, ct), options.ReadinessTimeout, cancellationToken);
        var usage = Check(store.PingAsync, options.ReadinessTimeout, cancellationToken);
        var kafka = options.KafkaCheck is null ? Task.FromResult("not_configured") : Check(options.KafkaCheck, options.ReadinessTimeout, cancellationToken);
        var checks = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["postgres"] = await postgres.ConfigureAwait(false),
            ["usage_store"] = await usage.ConfigureAwait(false),
            ["kafka"] = await kafka.ConfigureAwait(false),
        };
        var failed = checks.Where(c => c.Value is not ("ok" or "not_configured")).Select(c => c.Key).ToList();
        if (failed.Count == 0)
        {
            return TypedResults.Ok(new ReadinessResponse("ready", checks));
        }

        return TypedResults.Problem(
            $"not ready: {string.Join(", ", failed.Select(f => $"{f} {checks[f]}"))}",
            statusCode: StatusCodes.Status503ServiceUnavailable,
            title: "not ready",
            type: "urn:metering:problem:not-ready",
            extensions: new Dictionary<string, object?> { ["checks"] = checks, ["failed"] = failed });
    }

    private static async Task<string> Check(Func<CancellationToken, Task<bool>> probe, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            return await probe(cts.Token).WaitAsync(cts.Token).ConfigureAwait(false) ? "ok" : "failed";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return "timeout";
        }
#pragma warning disable CA1031 // any failure of a dependency is reported as "failed", never thrown out of /readyz
        catch (Exception)
#pragma warning restore CA1031
        {
            return "failed";
        }
    }
}
