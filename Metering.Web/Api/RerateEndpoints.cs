using System.Text;
using System.Text.Json;
using Metering.Ledger.Statements;
using Metering.Rating.PriceBooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace Metering.Web.Api;

/// <summary>
/// <c>POST /v1/periods/{period}/rerate</c>: re-rates a closed period under a draft price book (<see cref="Rerater"/>,
/// docs/statements.md "Re-rating"): the exact line difference per account against the period as billed under the
/// server's books; with <c>apply</c>, books it as adjustment lines into the next open period.
/// </summary>
internal static class RerateEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/periods/{period}/rerate", Rerate)
            .RequireAuthorization(ApiScopes.Admin)
            .WithName("ReratePeriod")
            .WithTags("billing")
            .WithSummary("Re-rates a closed billing period under a draft price book (body: price_book, optional contracts and account): the exact line difference per account against its final statement with the late usage booked so far, under the server's books; writes nothing unless apply=true, which books the lines (kind rerate) into the first open period (reason required; idempotency_key replays; force re-rates a period already re-rated). 409 for an open period or a refused apply (scope admin).")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
    }

    private static async Task<Results<Ok<RerateResponse>, ValidationProblem, ProblemHttpResult>> Rerate(
        HttpContext http, NpgsqlDataSource db, ApiOptions options, string period, RerateRequest? body, CancellationToken cancellationToken)
    {
        if (ApiScopes.IsAccountBound(http.User))
        {
            return ApiProblems.AccountBound("re-rate a period, which re-rates every account");
        }

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        Rating.Periods.BillingPeriod containing = default;
        if (BillingPeriodParameter.Resolve(period, options.BillingPeriods, out var start, out containing) is { } periodProblem)
        {
            errors["period"] = [periodProblem];
        }
        else if (containing.Start != start)
        {
            errors["period"] = [$"{period} is not the start of a billing period (the period containing it is {containing})"];
        }

        if (body is null)
        {
            return ApiProblems.Invalid("body", "must be a JSON object with price_book (docs/api.md, \"Re-rating\")");
        }

        foreach (var name in body.Unknown?.Keys ?? Enumerable.Empty<string>())
        {
            errors[name] = ["unknown field; the fields are price_book, contracts, account, apply, reason, idempotency_key, force"];
        }

        if (body.Account is { } account && UsageRequest.IdentifierProblem(account) is { } accountProblem)
        {
            errors["account"] = [accountProblem];
        }

        if (body.Apply)
        {
            if (string.IsNullOrWhiteSpace(body.Reason))
            {
                errors["reason"] = ["is required with apply: why the period is re-rated (1-1000 bytes)"];
            }
            else if (Encoding.UTF8.GetByteCount(body.Reason) > Rerater.MaxReasonBytes || body.Reason.Any(char.IsControl))
            {
                errors["reason"] = [$"must be 1-{Rerater.MaxReasonBytes} bytes without control characters"];
            }

            if (body.IdempotencyKey is { } key && (key.Length == 0 || Encoding.UTF8.GetByteCount(key) > Rerater.MaxKeyBytes || key.Any(char.IsControl)))
            {
                errors["idempotency_key"] = [$"must be 1-{Rerater.MaxKeyBytes} bytes without control characters"];
            }
        }
        else if (body.Reason is not null || body.IdempotencyKey is not null || body.Force)
        {
            errors["apply"] = ["reason, idempotency_key and force only mean something with apply=true"];
        }

        var draft = Draft(body, errors);
        if (errors.Count > 0)
        {
            return ApiProblems.Invalid(errors);
        }

        if (options.Prices is not { } billing)
        {
            return ApiProblems.Conflict("the server has no price book: the period as billed is rated with it (start serve with --pricebook)");
        }

        try
        {
            var result = body.Apply
                ? await Rerater.ApplyAsync(db, containing, options.BillingPeriods, billing, draft!, body.Account,
                    new RerateApplyRequest(body.Reason!, body.IdempotencyKey, Actor(http), body.Force), cancellationToken).ConfigureAwait(false)
                : await Rerater.PreviewAsync(db, containing, billing, draft!, body.Account, cancellationToken).ConfigureAwait(false);
            return TypedResults.Ok(RerateResponses.Of(result));
        }
        catch (RerateException e) when (e.Refusal == RerateRefusal.NoFinalStatement && body.Account is not null)
        {
            return ApiProblems.NotFound(e.Message);
        }
        catch (RerateException e)
        {
            return ApiProblems.Conflict(e.Message);
        }
    }

    /// <summary>The draft catalog from the body; every price-book problem is reported with its path under the body.</summary>
    private static PriceCatalog? Draft(RerateRequest body, Dictionary<string, string[]> errors)
    {
        if (body.PriceBook is not { ValueKind: JsonValueKind.Object } json)
        {
            errors["price_book"] = ["is required: the draft list price book, a price-book JSON object (docs/pricebooks.md)"];
            return null;
        }

        var (list, listErrors) = PriceBookLoader.Validate(Encoding.UTF8.GetBytes(json.GetRawText()));
        Add(errors, "$.price_book", listErrors);
        if (list is not null && list.IsContract)
        {
            errors["$.price_book.account"] = ["the draft price_book is the list book; give contract books in contracts"];
        }

        var contracts = new List<PriceBook>();
        for (var i = 0; i < (body.Contracts?.Count ?? 0); i++)
        {
            var c = body.Contracts![i];
            var path = $"$.contracts[{i}]";
            if (c.ValueKind != JsonValueKind.Object)
            {
                errors[path] = ["must be a contract price-book JSON object"];
                continue;
            }

            var (book, bookErrors) = PriceBookLoader.Validate(Encoding.UTF8.GetBytes(c.GetRawText()), list);
            Add(errors, path, bookErrors);
            if (book is not null && !book.IsContract)
            {
                errors[path + ".account"] = ["a contract book names its account"];
            }
            else if (book is not null)
            {
                contracts.Add(book);
            }
        }

        if (errors.Count > 0 || list is null)
        {
            return null;
        }

        try
        {
            return new PriceCatalog(list, contracts);
        }
        catch (ArgumentException e)
        {
            errors["contracts"] = [e.Message];
            return null;
        }
    }

    // A loader path is "$..." relative to the book; under the body it is the book's field path.
    private static void Add(Dictionary<string, string[]> errors, string at, IReadOnlyList<PriceBookError> found)
    {
        foreach (var g in found.GroupBy(e => at + (e.Path.StartsWith('$') ? e.Path[1..] : "." + e.Path), StringComparer.Ordinal))
        {
            errors[g.Key] = [.. g.Select(e => e.Message)];
        }
    }

    // Who applied the re-rate, for booked_adjustments.actor: the token's subject, without control characters.
    private static string Actor(HttpContext http)
    {
        var subject = http.User.FindFirst("sub")?.Value;
        if (string.IsNullOrEmpty(subject))
        {
            return "jwt:unknown";
        }

        var clean = new string([.. subject.Select(c => char.IsControl(c) ? '?' : c)]);
        var actor = "jwt:" + clean;
        while (Encoding.UTF8.GetByteCount(actor) > Rerater.MaxActorBytes)
        {
            actor = actor[..^1];
        }

        return actor;
    }
}
