using Metering.Ledger.PeriodClose;
using Metering.Ledger.Statements;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace Metering.Web.Api;

/// <summary>
/// The statements (docs/statements.md): <c>GET /v1/accounts/{account}/statements/{period}</c>, one account's final
/// statement when period close wrote it, else its draft built now by <see cref="StatementAssembler"/>; and
/// <c>GET /v1/statements?period=P</c>, every account's, cursor-paginated in account order.
/// </summary>
internal static class StatementEndpoints
{
    public const int DefaultLimit = 100;

    public const int MaxLimit = 1000;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/accounts/{account}/statements/{period}", GetStatement)
            .RequireAuthorization(ApiScopes.BillingRead)
            .WithName("GetAccountStatement")
            .WithTags("billing")
            .WithSummary("One account's statement for a billing period: final (with id, finalized_at and inputs) once the period is closed, else the draft: usage lines with tiers, fees with proration, the commitment, adjustments and totals (scope billing:read).")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);
        app.MapGet("/v1/statements", ListStatements)
            .RequireAuthorization(ApiScopes.Admin)
            .WithName("ListStatements")
            .WithTags("billing")
            .WithSummary($"Every account's statement for a billing period (period=YYYY-MM or a period start), in account order, in pages of limit (1-{MaxLimit}, default {DefaultLimit}) with next_cursor (scope admin).")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                foreach (var p in operation.Parameters?.OfType<Microsoft.OpenApi.OpenApiParameter>() ?? [])
                {
                    p.Description = p.Name switch
                    {
                        "period" => "The billing period: YYYY-MM or the period's start date YYYY-MM-DD.",
                        "limit" => $"Statements per page, 1-{MaxLimit} (default {DefaultLimit}).",
                        "cursor" => "next_cursor of the previous page, passed back unchanged.",
                        _ => p.Description,
                    };
                }

                return Task.CompletedTask;
            });
    }

    private static async Task<Results<Ok<StatementResponse>, ValidationProblem, ProblemHttpResult>> GetStatement(
        HttpContext http, NpgsqlDataSource db, ApiOptions options, string account, string period, CancellationToken cancellationToken)
    {
        var errors = AccountPeriodParameters.Check(account, period, options.BillingPeriods, mustStartPeriod: false, out var start, out var containing);
        if (errors.Count > 0)
        {
            return ApiProblems.Invalid(errors);
        }

        if (!ApiScopes.MayRead(http.User, account))
        {
            return ApiProblems.ForeignAccount(account);
        }

        // The account's own periods when it has a rule of its own: the period starting on that date (YYYY-MM-DD) or in
        // that month (YYYY-MM) on the account's clock (docs/statements.md, "Account billing periods").
        var periods = await AccountPeriodStore.LoadAsync(db, options.BillingPeriods, account, cancellationToken).ConfigureAwait(false);
        var rule = periods.RuleOf(account);
        BillingPeriod own;
        if (ReferenceEquals(rule, options.BillingPeriods))
        {
            if (containing.Start != start)
            {
                return ApiProblems.Invalid(new Dictionary<string, string[]> { ["period"] = [$"{start:yyyy-MM-dd} is not the start of a billing period (the period containing it starts {containing.Start:yyyy-MM-dd})"] });
            }

            own = containing;
        }
        else if (rule.PeriodLabelledBy(new BillingPeriod(start, period.Length == 7 ? start.AddMonths(1) : start.AddDays(1))) is { } labelled)
        {
            own = labelled;
        }
        else
        {
            return ApiProblems.Invalid(new Dictionary<string, string[]>
            {
                ["period"] = [$"no billing period of account '{account}' starts {(period.Length == 7 ? "in" : "on")} {period}: its periods start on day {rule.AnchorDay} at midnight {rule.TimeZone.Id} (the period containing {start:yyyy-MM-dd} starts {rule.PeriodOf(start).Start:O})"],
            });
        }

        var statement = await StatementQuery.GetAsync(db, own, options.BillingPeriods, PricesOf(options), account, cancellationToken).ConfigureAwait(false);
        return statement is null
            ? ApiProblems.NotFound($"account '{account}' has no terms, no usage and no adjustment in the period starting {own.Start:O}")
            : TypedResults.Ok(StatementResponses.Of(statement));
    }

    private static async Task<Results<Ok<StatementListResponse>, ValidationProblem, ProblemHttpResult>> ListStatements(
        HttpContext http, NpgsqlDataSource db, ApiOptions options, string? period, string? cursor, string? limit, CancellationToken cancellationToken)
    {
        if (ApiScopes.IsAccountBound(http.User))
        {
            return ApiProblems.AccountBound("list every account's statements");
        }

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        Rating.Periods.BillingPeriod containing = default;
        if (period is null)
        {
            errors["period"] = ["is required: YYYY-MM or the period's start date YYYY-MM-DD"];
        }
        else if (BillingPeriodParameter.Resolve(period, options.BillingPeriods, out var start, out containing) is { } problem)
        {
            errors["period"] = [problem];
        }
        else if (containing.Start != start)
        {
            errors["period"] = [$"{start:yyyy-MM-dd} is not the start of a billing period (the period containing it starts {containing.Start:yyyy-MM-dd})"];
        }

        var (pageSize, after) = AccountCursor.Page(cursor, limit, DefaultLimit, MaxLimit, errors);

        if (errors.Count > 0)
        {
            return ApiProblems.Invalid(errors);
        }

        var page = await StatementQuery.ListAsync(db, containing, options.BillingPeriods, PricesOf(options), after, pageSize, cancellationToken).ConfigureAwait(false);
        var next = page.Count == pageSize ? AccountCursor.Of(page[^1].Statement.Account) : null;
        return TypedResults.Ok(new StatementListResponse(containing.Start, containing.End, [.. page.Select(StatementResponses.Of)], next));
    }

    private static PriceCatalog PricesOf(ApiOptions options) => options.Prices ?? new PriceCatalog(null, []);
}
