using Metering.Ledger.Quotas;
using Metering.Rating.Money;
using Metering.Rating.PriceBooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace Metering.Web.Api;

/// <summary>
/// Quotas per account (docs/alerts.md): <c>GET /v1/accounts/{account}/quotas</c> (billing:read),
/// <c>POST</c> to add one and <c>DELETE .../{id}</c> to remove one (admin, not account-bound). Crossing a quota in a
/// period raises one alert, detected in the flush transaction and delivered by <c>metering alerts dispatch</c>.
/// </summary>
internal static class QuotaEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/accounts/{account}/quotas", List)
            .RequireAuthorization(ApiScopes.BillingRead).WithName("ListQuotas").WithTags("quotas")
            .WithSummary("The account's quotas, from the API and from price books (scope billing:read).")
            .ProducesProblem(StatusCodes.Status403Forbidden);
        app.MapPost("/v1/accounts/{account}/quotas", Add)
            .RequireAuthorization(ApiScopes.Admin).WithName("AddQuota").WithTags("quotas")
            .WithSummary("Adds a quota: {\"metric\":\"quantity\",\"sku\":...,\"threshold\":\"...\"} or {\"metric\":\"amount\",\"currency\":...,\"threshold\":\"...\"} (scope admin).")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden);
        app.MapDelete("/v1/accounts/{account}/quotas/{id:long}", Remove)
            .RequireAuthorization(ApiScopes.Admin).WithName("RemoveQuota").WithTags("quotas")
            .WithSummary("Removes a quota; its alerts stay (scope admin).")
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static QuotaView View(Quota q) =>
        new(q.Id, q.Account, q.Sku, QuotaStore.MetricName(q.Metric), q.InvalidThreshold ?? DecimalText.Quantity(q.Threshold), q.Currency, q.Source, q.UpdatedAt,
            q.InvalidThreshold is not null ? "invalid_threshold" : q.CurrencyMismatch ? "currency_mismatch" : "active");

    private static async Task<Results<Ok<IReadOnlyList<QuotaView>>, ValidationProblem, ProblemHttpResult>> List(
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

        var quotas = await QuotaStore.ListAsync(db, account, cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok<IReadOnlyList<QuotaView>>([.. quotas.Select(View)]);
    }

    private static async Task<Results<Created<QuotaView>, ValidationProblem, ProblemHttpResult>> Add(
        HttpContext http, NpgsqlDataSource db, string account, QuotaRequest body, CancellationToken cancellationToken)
    {
        if (ApiScopes.IsAccountBound(http.User))
        {
            return ApiProblems.AccountBound("set quotas");
        }

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (UsageRequest.IdentifierProblem(account) is { } accountProblem)
        {
            errors["account"] = [accountProblem];
        }

        QuotaMetric? metric = body.Metric switch { "quantity" => QuotaMetric.Quantity, "amount" => QuotaMetric.Amount, _ => null };
        if (metric is null)
        {
            errors["metric"] = [$"must be 'quantity' or 'amount', got '{body.Metric}'"];
        }

        if (LedgerDecimal.ParsePositive(body.Threshold, out var threshold) is { } thresholdProblem)
        {
            errors["threshold"] = [thresholdProblem];
        }

        if (errors.Count > 0)
        {
            return ApiProblems.Invalid(errors);
        }

        try
        {
            var id = await QuotaStore.SetAsync(db, account, body.Sku, metric!.Value, threshold, body.Currency, cancellationToken).ConfigureAwait(false);
            var created = (await QuotaStore.ListAsync(db, account, cancellationToken).ConfigureAwait(false)).Single(q => q.Id == id);
            return TypedResults.Created($"/v1/accounts/{Uri.EscapeDataString(account)}/quotas/{id}", View(created));
        }
        catch (ArgumentException e)
        {
            return ApiProblems.Invalid(e.ParamName ?? "quota", e.Message);
        }
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Remove(HttpContext http, NpgsqlDataSource db, string account, long id, CancellationToken cancellationToken)
    {
        if (ApiScopes.IsAccountBound(http.User))
        {
            return ApiProblems.AccountBound("remove quotas");
        }

        var quotas = await QuotaStore.ListAsync(db, account, cancellationToken).ConfigureAwait(false);
        if (quotas.All(q => q.Id != id) || !await QuotaStore.RemoveAsync(db, id, cancellationToken).ConfigureAwait(false))
        {
            return ApiProblems.NotFound($"account '{account}' has no quota {id}");
        }

        return TypedResults.NoContent();
    }
}
