using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace Metering.Web.Api;

/// <summary>
/// <c>GET /v1/accounts/{account}/alerts</c> (billing:read, read-only): the account's quota alerts, newest first (up to
/// 200), with their delivery state; the console shows them next to the quotas on the usage page.
/// </summary>
internal static class AlertEndpoints
{
    private const int Limit = 200;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/accounts/{account}/alerts", List)
            .RequireAuthorization(ApiScopes.BillingRead).WithName("ListAlerts").WithTags("quotas")
            .WithSummary("The account's quota alerts, newest first (up to 200): quota, period, the value at the crossing, delivery per channel (scope billing:read).")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden);
    }

    private static async Task<Results<Ok<IReadOnlyList<AlertView>>, ValidationProblem, ProblemHttpResult>> List(
        HttpContext http, NpgsqlDataSource db, string account, CancellationToken cancellationToken)
    {
        if (UsageRequest.IdentifierProblem(account) is { } problem)
        {
            return ApiProblems.Invalid("account", problem);
        }

        if (!ApiScopes.MayRead(http.User, account))
        {
            return ApiProblems.ForeignAccount(account);
        }

        await using var cmd = db.CreateCommand("""
            SELECT id, quota_id, account, sku, metric, threshold, value_before, value_at_crossing, currency, period_start, crossed_at,
                   delivered_kafka_at, delivered_webhook_at, attempts, last_error
            FROM alerts WHERE account = $1 ORDER BY crossed_at DESC, id LIMIT $2
            """);
        cmd.Parameters.Add(new NpgsqlParameter { Value = account });
        cmd.Parameters.Add(new NpgsqlParameter { Value = Limit });
        var alerts = new List<AlertView>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            alerts.Add(new AlertView(reader.GetGuid(0), reader.GetInt64(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4),
                DecimalText.Quantity(reader.GetDecimal(5)), DecimalText.Quantity(reader.GetDecimal(6)), DecimalText.Quantity(reader.GetDecimal(7)),
                reader.IsDBNull(8) ? null : reader.GetString(8).Trim(), reader.GetFieldValue<DateTimeOffset>(9), reader.GetFieldValue<DateTimeOffset>(10),
                reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11), reader.IsDBNull(12) ? null : reader.GetFieldValue<DateTimeOffset>(12),
                reader.GetInt32(13), reader.IsDBNull(14) ? null : reader.GetString(14)));
        }

        return TypedResults.Ok<IReadOnlyList<AlertView>>(alerts);
    }
}
