using Metering.Ledger.PeriodClose;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace Metering.Web.Api;

/// <summary><c>POST /v1/periods/{period}/close</c>: closes a billing period for every account (<see cref="PeriodCloser"/>).</summary>
internal static class PeriodCloseEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/periods/{period}/close", Close)
            .RequireAuthorization(ApiScopes.Admin)
            .WithName("ClosePeriod")
            .WithTags("billing")
            .WithSummary("Closes a billing period for all accounts: its totals become final and every account's final statement is written in the same transaction, later usage is booked as adjustments in the open period. Idempotent. Refuses (409) a period that has not ended unless force=true (scope admin).")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status409Conflict);
    }

    private static async Task<Results<Ok<PeriodCloseResponse>, ValidationProblem, ProblemHttpResult>> Close(
        HttpContext http, NpgsqlDataSource db, ApiOptions options, string period, [FromQuery] string? force, CancellationToken cancellationToken)
    {
        if (ApiScopes.IsAccountBound(http.User))
        {
            return ApiProblems.AccountBound("close a period, which closes it for every account");
        }

        if (BillingPeriodParameter.Resolve(period, options.BillingPeriods, out var start, out var containing) is { } periodProblem)
        {
            return ApiProblems.Invalid("period", periodProblem);
        }

        if (force is not (null or "true" or "false"))
        {
            return ApiProblems.Invalid("force", $"must be true or false, got '{force}'");
        }

        if (containing.Start != start)
        {
            return ApiProblems.Invalid("period", $"{period} is not the start of a billing period (the period containing it is {containing})");
        }

        try
        {
            if (options.Prices is null)
            {
                return ApiProblems.Conflict("the server has no price book: a close writes every account's final statement and needs the prices (start serve with --pricebook)");
            }

            var r = await PeriodCloser.CloseAsync(db, start, cancellationToken, options.BillingPeriods, force: force == "true", prices: options.Prices).ConfigureAwait(false);
            var sums = r.AmountByCurrency.Select(a => new CurrencySubtotal(a.Key, DecimalText.Money(a.Value, a.Key))).ToList();
            return TypedResults.Ok(new PeriodCloseResponse(r.Period.Start, r.Period.End, r.AlreadyClosed, r.Totals, sums, r.StatementsWritten,
                [.. (r.Groups ?? []).Select(g => new RuleGroupCloseResponse(g.Group.AnchorDay, g.Group.TimeZone, g.Period.Start, g.Period.End, g.Closed, g.StatementsWritten))]));
        }
        catch (PeriodCloseException e)
        {
            return ApiProblems.Conflict(e.Message);
        }
    }
}
