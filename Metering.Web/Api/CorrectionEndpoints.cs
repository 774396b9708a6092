using System.Globalization;
using Metering.Ledger.Corrections;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace Metering.Web.Api;

/// <summary>
/// Corrections (docs/api.md#corrections): <c>POST /v1/accounts/{account}/corrections</c> (admin; void or amend a usage
/// event by id, or a manual credit or debit; idempotent by <c>idempotency_key</c>, audited with the token's subject)
/// and <c>GET /v1/accounts/{account}/corrections</c> (billing:read; the audit trail, newest first). Validation is
/// <see cref="CorrectionRequest.Validate"/>, the same as <c>metering correct</c>'s; the ledger's rules are
/// <see cref="CorrectionStore.WriteAsync"/>'s.
/// </summary>
internal static class CorrectionEndpoints
{
    public const int DefaultLimit = 100;

    public const int MaxLimit = 1000;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/accounts/{account}/corrections", Post)
            .RequireAuthorization(ApiScopes.Admin).WithName("PostCorrection").WithTags("corrections")
            .WithSummary("Voids or amends a usage event by id, or books a manual credit or debit: kind, idempotency_key, event_id, sku, event_time, original_quantity, new_quantity, amount, currency, period, reason. 201 created, 200 replayed (same key, same request), 409 the key was used for another request, 422 refused by the ledger (horizon, voided, quantity mismatch, more than the ledger recorded, closed period) (scope admin).")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        app.MapGet("/v1/accounts/{account}/corrections", List)
            .RequireAuthorization(ApiScopes.BillingRead).WithName("ListCorrections").WithTags("corrections")
            .WithSummary("The account's corrections, newest first, in pages of limit (1-1000, default 100) with next_cursor (scope billing:read).")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden)
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                // The shared descriptions of limit and cursor are the usage query's; this list has its own bounds.
                foreach (var p in operation.Parameters?.OfType<Microsoft.OpenApi.OpenApiParameter>() ?? [])
                {
                    p.Description = p.Name switch
                    {
                        "limit" => $"Corrections per page, 1-{MaxLimit} (default {DefaultLimit}).",
                        "cursor" => "next_cursor of the previous page, passed back unchanged.",
                        _ => p.Description,
                    };
                }

                return Task.CompletedTask;
            });
    }

    private static async Task<Results<Created<CorrectionWriteResponse>, Ok<CorrectionWriteResponse>, ValidationProblem, ProblemHttpResult>> Post(
        HttpContext http, NpgsqlDataSource db, ApiOptions options, string account, CorrectionBody? body, CancellationToken cancellationToken)
    {
        if (ApiScopes.IsAccountBound(http.User))
        {
            return ApiProblems.AccountBound("book corrections");
        }

        if (body is null)
        {
            return ApiProblems.Invalid("body", "must be a JSON object with the correction (docs/api.md#corrections)");
        }

        var input = new CorrectionInput(account, body.Kind, body.IdempotencyKey, body.EventId, body.Sku, body.EventTime, body.OriginalQuantity, body.NewQuantity,
            body.Amount, body.Currency, body.Period, body.Reason)
        {
            Dimensions = body.Dimensions,
        };
        var validation = CorrectionRequest.Validate(input, AccountEndpoints.Actor(http), UsageRequest.IdentifierProblem);
        var errors = new Dictionary<string, string[]>(validation.Problems, StringComparer.Ordinal);
        foreach (var name in body.Unknown?.Keys ?? Enumerable.Empty<string>())
        {
            errors[name] = ["unknown field; the fields are " + CorrectionRequest.FieldNames];
        }

        if (errors.Count > 0)
        {
            return ApiProblems.Invalid(errors);
        }

        var write = await CorrectionStore.WriteAsync(db, validation.Request!, options.BillingPeriods, DateTimeOffset.UtcNow, options.CorrectionHorizon, cancellationToken, options.Prices).ConfigureAwait(false);
        switch (write.Status)
        {
            case CorrectionWriteStatus.Created:
                return TypedResults.Created($"/v1/accounts/{Uri.EscapeDataString(account)}/corrections/{write.Correction!.Id}", new CorrectionWriteResponse("created", CorrectionResponse.Of(write.Correction)));
            case CorrectionWriteStatus.Replayed:
                return TypedResults.Ok(new CorrectionWriteResponse("replayed", CorrectionResponse.Of(write.Correction!)));
            case CorrectionWriteStatus.IdempotencyConflict:
                return TypedResults.Problem(
                    $"idempotency_key '{validation.Request!.IdempotencyKey}' was used for correction {write.Correction!.Id} with other values of {string.Join(", ", write.DifferingFields)}; use a new key for a new correction",
                    statusCode: StatusCodes.Status409Conflict, title: "idempotency conflict", type: "urn:metering:problem:idempotency-conflict",
                    extensions: new Dictionary<string, object?> { ["correction_id"] = write.Correction.Id, ["fields"] = write.DifferingFields });
            default:
                var refusal = write.Refusal!;
                return TypedResults.Problem(refusal.Message, statusCode: StatusCodes.Status422UnprocessableEntity, title: "correction refused", type: "urn:metering:problem:correction-refused",
                    extensions: new Dictionary<string, object?> { ["code"] = refusal.Code, ["errors"] = new Dictionary<string, string[]> { [refusal.Field] = [refusal.Message] } });
        }
    }

    private static async Task<Results<Ok<CorrectionListResponse>, ValidationProblem, ProblemHttpResult>> List(
        HttpContext http, NpgsqlDataSource db, string account, string? cursor, string? limit, CancellationToken cancellationToken)
    {
        if (UsageRequest.IdentifierProblem(account) is { } problem)
        {
            return ApiProblems.Invalid("account", problem);
        }

        if (!ApiScopes.MayRead(http.User, account))
        {
            return ApiProblems.ForeignAccount(account);
        }

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var pageSize = DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize) || pageSize is < 1 or > MaxLimit))
        {
            errors["limit"] = [$"must be an integer from 1 to {MaxLimit}, got '{limit}'"];
        }

        // The cursor is the id of the page's oldest correction: later pages hold only smaller ids.
        long? before = null;
        if (cursor is not null)
        {
            if (long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0)
            {
                before = id;
            }
            else
            {
                errors["cursor"] = ["not a cursor of this list (pass next_cursor back unchanged)"];
            }
        }

        if (errors.Count > 0)
        {
            return ApiProblems.Invalid(errors);
        }

        var page = await CorrectionStore.ListAsync(db, account, before, pageSize, cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok(new CorrectionListResponse([.. page.Corrections.Select(CorrectionResponse.Of)],
            page.NextBefore is { } next ? next.ToString(CultureInfo.InvariantCulture) : null));
    }
}
