using Metering.Ledger.Accounts;
using Metering.Rating.Accounts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace Metering.Web.Api;

/// <summary>
/// Accounts and their subscription terms (docs/api.md#accounts): <c>PUT /v1/accounts/{account}</c> (admin, idempotent),
/// <c>GET /v1/accounts/{account}</c> (billing:read; an account-bound token reads only its own) and
/// <c>GET /v1/accounts</c> (admin, keyset pages). Validation is <see cref="AccountTerms.Validate"/>, the same as
/// <c>metering account set</c>'s.
/// </summary>
internal static class AccountEndpoints
{
    public const int DefaultLimit = 100;

    public const int MaxLimit = 1000;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPut("/v1/accounts/{account}", Put)
            .RequireAuthorization(ApiScopes.Admin).WithName("PutAccount").WithTags("accounts")
            .WithSummary("Creates or replaces an account's terms: currency, list_book, contract_book, start, end, anchor_day (1-28), time_zone (IANA), reason. 201 created, 200 updated or unchanged (scope admin); 409 when the period rule or the currency of an account with booked usage would change.")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status409Conflict);
        app.MapGet("/v1/accounts/{account}", Get)
            .RequireAuthorization(ApiScopes.BillingRead).WithName("GetAccount").WithTags("accounts")
            .WithSummary("An account's terms; 404 when it has none (it is then billed on the list book) (scope billing:read).")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        app.MapGet("/v1/accounts", List)
            .RequireAuthorization(ApiScopes.Admin).WithName("ListAccounts").WithTags("accounts")
            .WithSummary("Every account with terms, ordered by id, in pages of limit (1-1000, default 100) with next_cursor (scope admin).")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden)
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                // The shared descriptions of limit and cursor are the usage query's; this list has its own bounds.
                foreach (var p in operation.Parameters?.OfType<Microsoft.OpenApi.OpenApiParameter>() ?? [])
                {
                    p.Description = p.Name switch
                    {
                        "limit" => $"Accounts per page, 1-{MaxLimit} (default {DefaultLimit}).",
                        "cursor" => "next_cursor of the previous page, passed back unchanged.",
                        _ => p.Description,
                    };
                }

                return Task.CompletedTask;
            });
    }

    private static async Task<Results<Created<AccountWriteResponse>, Ok<AccountWriteResponse>, ValidationProblem, ProblemHttpResult>> Put(
        HttpContext http, NpgsqlDataSource db, string account, AccountRequest? body, CancellationToken cancellationToken)
    {
        if (ApiScopes.IsAccountBound(http.User))
        {
            return ApiProblems.AccountBound("set account terms");
        }

        if (body is null)
        {
            return ApiProblems.Invalid("body", "must be a JSON object with the account's terms (docs/api.md#accounts)");
        }

        var input = new AccountTermsInput(account, body.Currency, body.ListBook, body.ContractBook, body.Start, body.End, body.AnchorDay, body.TimeZone, body.Reason);
        var validation = AccountTerms.Validate(input, UsageRequest.IdentifierProblem);
        var errors = new Dictionary<string, string[]>(validation.Problems, StringComparer.Ordinal);
        foreach (var name in body.Unknown?.Keys ?? Enumerable.Empty<string>())
        {
            errors[name] = ["unknown field; the fields are currency, list_book, contract_book, start, end, anchor_day, time_zone, reason"];
        }

        if (errors.Count > 0)
        {
            return ApiProblems.Invalid(errors);
        }

        AccountWrite write;
        try
        {
            write = await AccountStore.SetAsync(db, validation.Terms!, Actor(http), body.Reason, cancellationToken).ConfigureAwait(false);
        }
        catch (PeriodRuleInUseException e)
        {
            return ApiProblems.Conflict(e.Message);
        }
        catch (CurrencyInUseException e)
        {
            return CurrencyInUse(e);
        }

        var response = new AccountWriteResponse(Status(write.Status), AccountResponse.Of(write.Account));
        return write.Status == AccountWriteStatus.Created
            ? TypedResults.Created($"/v1/accounts/{Uri.EscapeDataString(account)}", response)
            : TypedResults.Ok(response);
    }

    private static async Task<Results<Ok<AccountResponse>, ValidationProblem, ProblemHttpResult>> Get(
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

        return await AccountStore.GetAsync(db, account, cancellationToken).ConfigureAwait(false) is { } stored
            ? TypedResults.Ok(AccountResponse.Of(stored))
            : ApiProblems.NotFound($"account '{account}' has no terms; its usage is billed on the list book with the list book's period rule (docs/api.md#accounts)");
    }

    private static async Task<Results<Ok<AccountListResponse>, ValidationProblem, ProblemHttpResult>> List(
        HttpContext http, NpgsqlDataSource db, string? cursor, string? limit, CancellationToken cancellationToken)
    {
        if (ApiScopes.IsAccountBound(http.User))
        {
            return ApiProblems.AccountBound("list every account");
        }

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var (pageSize, after) = AccountCursor.Page(cursor, limit, DefaultLimit, MaxLimit, errors);

        if (errors.Count > 0)
        {
            return ApiProblems.Invalid(errors);
        }

        var page = await AccountStore.ListAsync(db, after, pageSize, cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok(new AccountListResponse([.. page.Accounts.Select(AccountResponse.Of)], page.NextAfter is { } next ? AccountCursor.Of(next) : null));
    }

    /// <summary>The problem type of a currency change refused while the account has usage in an open period.</summary>
    public const string CurrencyInUseType = "urn:metering:problem:currency-in-use";

    // A problem type of its own (not the generic conflict): a client can tell "close the period first" from the other 409s.
    private static ProblemHttpResult CurrencyInUse(CurrencyInUseException e) =>
        TypedResults.Problem(e.Message, statusCode: StatusCodes.Status409Conflict, title: "currency in use", type: CurrencyInUseType,
            extensions: new Dictionary<string, object?> { ["account"] = e.Account, ["currency"] = e.Currency, ["open_period_start"] = e.OpenPeriodStart });

    private static string Status(AccountWriteStatus status) => status switch
    {
        AccountWriteStatus.Created => "created",
        AccountWriteStatus.Updated => "updated",
        _ => "unchanged",
    };

    // Who changed the terms, for the audit: the token's subject (or the API key's id), without control characters
    // (PostgreSQL text refuses U+0000).
    internal static string Actor(HttpContext http)
    {
        var subject = http.User.FindFirst("sub")?.Value;
        if (string.IsNullOrEmpty(subject))
        {
            return "jwt:unknown";
        }

        var clean = string.Create(subject.Length, subject, (span, s) =>
        {
            for (var i = 0; i < s.Length; i++)
            {
                span[i] = char.IsControl(s[i]) ? '?' : s[i];
            }
        });
        return "jwt:" + (clean.Length > AccountStore.MaxActorLength - 4 ? clean[..(AccountStore.MaxActorLength - 4)] : clean);
    }
}
