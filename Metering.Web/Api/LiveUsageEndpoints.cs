using Metering.Ledger.Totals;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace Metering.Web.Api;

/// <summary>
/// <c>GET /v1/accounts/{account}/usage/live</c>: how much an account has used in the current (or a given) period, for
/// edge services that need the answer in a millisecond. Read from the Redis live counters the engine publishes after
/// each committed flush; when the server has no Redis, or Redis does not answer, from PostgreSQL's totals (exact as
/// well, slower) and the response says so in <c>source</c>.
/// </summary>
internal static class LiveUsageEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/accounts/{account}/usage/live", GetLive)
            .RequireAuthorization(ApiScopes.UsageRead)
            .WithName("GetLiveUsage")
            .WithTags("usage")
            .WithSummary("Live cumulative usage and charges of one account in the current billing period, or ?period= (scope usage:read).")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);
    }

    private static async Task<Results<Ok<LiveUsageResponse>, ValidationProblem, ProblemHttpResult>> GetLive(
        HttpContext http, NpgsqlDataSource db, ApiOptions options, string account, string? period, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (UsageRequest.IdentifierProblem(account) is { } accountProblem)
        {
            errors["account"] = [accountProblem];
        }

        var start = options.BillingPeriods.PeriodOf(DateTimeOffset.UtcNow).Start;
        if (period is not null && BillingPeriodParameter.Resolve(period, options.BillingPeriods, out start, out _) is { } periodProblem)
        {
            errors["period"] = [periodProblem];
        }

        if (errors.Count > 0)
        {
            return ApiProblems.Invalid(errors);
        }

        if (!ApiScopes.MayRead(http.User, account))
        {
            return ApiProblems.ForeignAccount(account);
        }

        if (options.LiveCounters is { } counters)
        {
            try
            {
                var live = await counters.ReadAsync(account, start).ConfigureAwait(false);
                return TypedResults.Ok(new LiveUsageResponse(account, start, "redis",
                    [.. live.Select(c => new LiveUsageLine(c.Sku, c.Count, DecimalText.Quantity(c.Quantity), DecimalText.Money(c.Amount, c.Currency), c.Currency))]));
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
            {
                // Redis down: the ledger answers (exactly, more slowly); the response names its source.
            }
        }

        var totals = await TotalsQuery.OfAccountPeriodAsync(db, account, start, cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok(new LiveUsageResponse(account, start, "postgres",
            [.. totals.Select(t => new LiveUsageLine(t.Sku, t.RecordCount, DecimalText.Quantity(t.Quantity), DecimalText.Money(t.Amount, t.Currency), t.Currency))]));
    }
}
