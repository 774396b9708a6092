using Metering.Analytics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Metering.Web.Api;

/// <summary><c>GET /v1/usage</c>: bucketed usage from the analytics store (<see cref="IUsageStore"/>).</summary>
internal static class UsageEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/usage", GetUsage)
            .RequireAuthorization(ApiScopes.UsageRead)
            .WithName("GetUsage")
            .WithTags("usage")
            .WithSummary("Usage of one account, bucketed by minute, hour or day, optionally grouped by dimensions (scope usage:read).")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<Results<Ok<UsageResponse>, ValidationProblem, ProblemHttpResult>> GetUsage(
        HttpContext http,
        IUsageStore store,
        [FromQuery] string? account,
        [FromQuery] string? sku,
        [FromQuery] string? from,
        [FromQuery] string? to,
        [FromQuery] string? granularity,
        [FromQuery(Name = "group_by")] string? groupBy,
        [FromQuery] string? limit,
        [FromQuery] string? cursor,
        CancellationToken cancellationToken)
    {
        var (query, offset, pageSize, errors) = UsageRequest.Parse(account, sku, from, to, granularity, groupBy, limit, cursor);
        if (query is null)
        {
            return ApiProblems.Invalid(errors);
        }

        if (!ApiScopes.MayRead(http.User, query.Account))
        {
            return ApiProblems.ForeignAccount(query.Account);
        }

        IReadOnlyList<UsagePoint> points;
        try
        {
            points = await store.QueryUsageAsync(query, cancellationToken).ConfigureAwait(false);
        }
        catch (UsageStoreUnavailableException e)
        {
            return TypedResults.Problem(e.Message, statusCode: StatusCodes.Status503ServiceUnavailable, title: "usage store unavailable", type: "urn:metering:problem:unavailable");
        }
        catch (ClickHouseException e)
        {
            return TypedResults.Problem("the usage store (ClickHouse) failed: " + e.Message, statusCode: StatusCodes.Status503ServiceUnavailable, title: "usage store unavailable", type: "urn:metering:problem:unavailable");
        }

        var end = (int)Math.Min((long)offset + pageSize, points.Count);
        var page = new List<UsagePointResponse>(Math.Max(0, end - offset));
        for (var i = offset; i < end; i++)
        {
            var p = points[i];
            page.Add(new UsagePointResponse(p.BucketStart, p.Sku, p.Dimensions, DecimalText.Quantity(p.Quantity), p.RecordCount, DecimalText.Money(p.Amount, p.Currency), p.Currency));
        }

        var next = end < points.Count ? UsageRequest.Cursor(query, end) : null;
        return TypedResults.Ok(new UsageResponse(query.Account, query.Sku, query.From, query.To, UsageRequest.Name(query.Granularity), query.GroupBy, page, next));
    }
}
