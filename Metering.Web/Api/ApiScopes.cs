using System.Security.Claims;

namespace Metering.Web.Api;

/// <summary>The OAuth scopes of the API (claim <c>scope</c> or <c>scp</c>, space-separated) and the <c>account</c> restriction.</summary>
public static class ApiScopes
{
    /// <summary><c>GET /v1/usage</c>.</summary>
    public const string UsageRead = "usage:read";

    /// <summary><c>GET /v1/accounts/{account}/periods/{period}</c> and reading price books.</summary>
    public const string BillingRead = "billing:read";

    /// <summary><c>PUT /v1/pricebooks/{id}/versions/{version}</c> (and reading price books).</summary>
    public const string PriceBooksWrite = "pricebooks:write";

    /// <summary><c>POST /v1/events</c> (HTTP ingest; API keys hold only this scope).</summary>
    public const string IngestWrite = "ingest:write";

    /// <summary><c>POST /v1/periods/{period}/close</c>; implies every other scope.</summary>
    public const string Admin = "admin";

    /// <summary>Claim that restricts a token to one account's data.</summary>
    public const string AccountClaim = "account";

    /// <summary>True when <paramref name="user"/> holds <paramref name="scope"/> or <see cref="Admin"/>.</summary>
    public static bool Has(ClaimsPrincipal user, string scope)
    {
        ArgumentNullException.ThrowIfNull(user);
        foreach (var claim in user.Claims)
        {
            if (claim.Type is not ("scope" or "scp"))
            {
                continue;
            }

            foreach (var s in claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (s == scope || s == Admin)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>True when the token carries an <c>account</c> claim: it may act on that account's data only, never on shared state (list price books, closing a period for every account).</summary>
    public static bool IsAccountBound(ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return user.HasClaim(c => c.Type == AccountClaim);
    }

    /// <summary>True when <paramref name="user"/> may read <paramref name="account"/>: the token has no <c>account</c> claim, or it names that account.</summary>
    public static bool MayRead(ClaimsPrincipal user, string account)
    {
        ArgumentNullException.ThrowIfNull(user);
        var restricted = false;
        foreach (var claim in user.FindAll(AccountClaim))
        {
            restricted = true;
            if (string.Equals(claim.Value, account, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return !restricted;
    }
}
