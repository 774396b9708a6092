using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace Metering.Web.Api;

/// <summary>401 and 403 as problem+json with the reason (no token, bad signature, expired, missing scope).</summary>
internal static class AuthProblems
{
    public static async Task Challenge(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        if (context.Response.HasStarted)
        {
            return; // the ApiKey scheme already answered a presented but unknown key
        }

        var detail = context.AuthenticateFailure switch
        {
            null when context.HttpContext.GetEndpoint()?.Metadata.GetMetadata<IAuthorizeData>()?.Policy == ApiScopes.IngestWrite => "a bearer token (Authorization: Bearer <JWT>) or an API key (X-Api-Key: <key>) is required",
            null => "a bearer token is required (Authorization: Bearer <JWT>)",
            SecurityTokenExpiredException e => $"the token expired at {e.Expires:yyyy-MM-dd'T'HH:mm:ss'Z'}",
            SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException => "the token's signature does not verify",
            SecurityTokenInvalidIssuerException => "the token's issuer is not accepted",
            SecurityTokenInvalidAudienceException => "the token's audience is not accepted",
            _ => "the token is not valid",
        };
        var response = context.Response;
        response.StatusCode = StatusCodes.Status401Unauthorized;
        response.Headers.WWWAuthenticate = context.AuthenticateFailure is null ? "Bearer" : "Bearer error=\"invalid_token\"";
        await Write(context.HttpContext, StatusCodes.Status401Unauthorized, "unauthorized", "urn:metering:problem:unauthorized", detail).ConfigureAwait(false);
    }

    public static Task Forbidden(ForbiddenContext context)
    {
        var policy = context.HttpContext.GetEndpoint()?.Metadata.GetMetadata<IAuthorizeData>()?.Policy;
        var detail = policy switch
        {
            null => "the token may not use this endpoint",
            PriceBookEndpoints.ReadPolicy => $"the token lacks scope '{ApiScopes.BillingRead}' or '{ApiScopes.PriceBooksWrite}' (or '{ApiScopes.Admin}')",
            ApiScopes.Admin => $"the token lacks scope '{ApiScopes.Admin}'",
            _ => $"the token lacks scope '{policy}' (or '{ApiScopes.Admin}')",
        };
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        return Write(context.HttpContext, StatusCodes.Status403Forbidden, "forbidden", "urn:metering:problem:missing-scope", detail);
    }

    public static async Task Write(HttpContext http, int status, string title, string type, string detail)
    {
        var problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Type = type, Detail = detail },
        }).ConfigureAwait(false);
    }
}
