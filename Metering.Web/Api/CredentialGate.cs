using System.Net;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;

namespace Metering.Web.Api;

/// <summary>
/// Two steps of the request pipeline around authentication (docs/api.md, "Authentication and scopes"):
/// <see cref="RejectAmbiguousAsync"/> runs first and answers 400 to a request that carries more than one credential
/// (an API key and a bearer token, or two of either); <see cref="IdentifyAsync"/> runs after authentication and names
/// the rate-limit partition of the request: the API key id, the JWT subject, or the remote address when anonymous.
/// </summary>
internal static class CredentialGate
{
    /// <summary>The header that carries an API key (or <c>Authorization: ApiKey &lt;key&gt;</c>).</summary>
    public const string ApiKeyHeader = "X-Api-Key";

    private const string PartitionItem = "metering.rate_limit_partition";

    /// <summary>
    /// One request is authenticated by exactly one credential. With two, the schemes' principals would be merged (an
    /// API key's <c>ingest:write</c> with a token's <c>account</c> claim wrote records for the token's account), so the
    /// request is refused before anything is authenticated, read or produced.
    /// </summary>
    public static async Task RejectAmbiguousAsync(HttpContext http, RequestDelegate next)
    {
        var headers = http.Request.Headers;
        var authorization = headers.Authorization.Count;
        var apiKeys = headers[ApiKeyHeader].Count;
        if (authorization + apiKeys <= 1)
        {
            await next(http).ConfigureAwait(false);
            return;
        }

        ApiMetrics.Rejected(ApiMetrics.AmbiguousCredentials);
        var detail = $"the request carries {authorization + apiKeys} credentials ({authorization} Authorization header(s), {apiKeys} {ApiKeyHeader} header(s)); " +
            $"send exactly one: Authorization: Bearer <JWT>, or an API key as {ApiKeyHeader}: <key> or Authorization: ApiKey <key>";
        http.Response.StatusCode = StatusCodes.Status400BadRequest;
        await AuthProblems.Write(http, StatusCodes.Status400BadRequest, "ambiguous credentials", "urn:metering:problem:ambiguous-credentials", detail).ConfigureAwait(false);
    }

    /// <summary>Names the request's rate-limit partition (after authentication, before the rate limiter).</summary>
    public static async Task IdentifyAsync(HttpContext http, RequestDelegate next)
    {
        http.Items[PartitionItem] = await PartitionOf(http).ConfigureAwait(false);
        await next(http).ConfigureAwait(false);
    }

    /// <summary>The partition named by <see cref="IdentifyAsync"/>: <c>apikey:ID</c>, <c>jwt:SUBJECT</c> or <c>ip:ADDRESS</c>.</summary>
    public static string Partition(HttpContext http) => http.Items[PartitionItem] as string ?? Anonymous(http);

    /// <summary>True for the partitions of requests without a valid credential.</summary>
    public static bool IsAnonymous(string partition) => partition.StartsWith("ip:", StringComparison.Ordinal);

    private static async Task<string> PartitionOf(HttpContext http)
    {
        // The default scheme (JWT bearer) already ran in UseAuthentication; an invalid token leaves the user anonymous.
        if (http.User.Identity?.IsAuthenticated == true)
        {
            var subject = http.User.FindFirst("sub")?.Value ?? http.User.FindFirst(ApiScopes.AccountClaim)?.Value ?? "-";
            return "jwt:" + subject;
        }

        var headers = http.Request.Headers;
        if (headers.ContainsKey(ApiKeyHeader) || headers.Authorization.ToString().StartsWith(ApiKeyAuthenticationHandler.SchemeName + " ", StringComparison.OrdinalIgnoreCase))
        {
            // The handler caches its result for the request, so the authorization step does not hash the key again.
            var result = await http.AuthenticateAsync(ApiKeyAuthenticationHandler.SchemeName).ConfigureAwait(false);
            if (result.Succeeded && result.Principal.FindFirst("sub")?.Value is { } keySubject)
            {
                return keySubject; // "apikey:<id>"
            }
        }

        return Anonymous(http);
    }

    private static string Anonymous(HttpContext http) => "ip:" + (http.Connection.RemoteIpAddress ?? IPAddress.None);
}
