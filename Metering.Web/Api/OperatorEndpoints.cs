using System.Globalization;
using Metering.Analytics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Metering.Web.Api;

/// <summary>
/// Read-only views for operators (scope admin, never account-bound): <c>GET /v1/operators/dead-letters</c> (the
/// ledger's dead letters by reason) and <c>GET /v1/operators/reconcile?period=</c> (a reconcile of that period run now).
/// </summary>
internal static class OperatorEndpoints
{
    private const int MaxDrifts = 100;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/operators/dead-letters", DeadLetters)
            .RequireAuthorization(ApiScopes.Admin).WithName("DeadLettersByReason").WithTags("operators")
            .WithSummary("Dead letters in the ledger by reason: count, not yet published to the dead-letter topic, first and last received (scope admin).")
            .ProducesProblem(StatusCodes.Status403Forbidden);
        app.MapGet("/v1/operators/reconcile", Reconcile)
            .RequireAuthorization(ApiScopes.Admin).WithName("Reconcile").WithTags("operators")
            .WithSummary("Reconciles one period now: billing totals (PostgreSQL) against the ClickHouse sums, exactly; ?period=YYYY-MM or YYYY-MM-DD (scope admin).")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<Results<Ok<DeadLetterSummaryResponse>, ProblemHttpResult>> DeadLetters(HttpContext http, NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        if (ApiScopes.IsAccountBound(http.User))
        {
            return ApiProblems.AccountBound("read the pipeline's dead letters");
        }

        await using var cmd = db.CreateCommand("""
            SELECT reason, count(*), count(*) FILTER (WHERE published_at IS NULL), min(received_at), max(received_at)
            FROM dead_letters GROUP BY reason ORDER BY count(*) DESC, reason
            """);
        var reasons = new List<DeadLetterReasonCount>();
        await using (var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                reasons.Add(new DeadLetterReasonCount(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2),
                    reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<DateTimeOffset>(4)));
            }
        }

        return TypedResults.Ok(new DeadLetterSummaryResponse(reasons.Sum(r => r.Count), reasons));
    }

    private static async Task<Results<Ok<ReconcileResultResponse>, ValidationProblem, ProblemHttpResult>> Reconcile(
        HttpContext http, string? period, CancellationToken cancellationToken)
    {
        if (ApiScopes.IsAccountBound(http.User))
        {
            return ApiProblems.AccountBound("reconcile the ledger");
        }

        if (BillingPeriodParameter.Parse(period) is not { } start)
        {
            return ApiProblems.Invalid("period", "expected a period start: YYYY-MM (the 1st of that month) or YYYY-MM-DD");
        }

        if (http.RequestServices.GetService<OperatorReconcile>() is not { } reconcile)
        {
            return TypedResults.Problem("no ClickHouse is configured (--clickhouse-url or --clickhouse-dir): there is nothing to reconcile against",
                statusCode: StatusCodes.Status503ServiceUnavailable, title: "usage store unavailable", type: "urn:metering:problem:unavailable");
        }

        ReconcileReport report;
        try
        {
            report = await reconcile.Run(start, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ClickHouseException or InvalidOperationException)
        {
            // ClickHouse failing, or more unexported rows than a reconcile looks up: the message says which.
            return TypedResults.Problem("reconcile failed: " + e.Message, statusCode: StatusCodes.Status503ServiceUnavailable, title: "reconcile unavailable", type: "urn:metering:problem:unavailable");
        }

        static string? Text(decimal? v) => v?.ToString(CultureInfo.InvariantCulture);
        return TypedResults.Ok(new ReconcileResultResponse(report.PeriodStart, report.Drifts.Count == 0 ? "clean" : "drift", report.LedgerKeys, report.AnalyticsKeys,
            report.InFlight, report.Drifts.Count, [.. report.Drifts.Take(MaxDrifts).Select(d => new ReconcileDriftResponse(d.Account, d.Sku, d.Field, Text(d.Ledger), Text(d.Analytics)))]));
    }
}
