using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

using Metering.Web.HttpIngest;

namespace Metering.Web.Api;

/// <summary>
/// The <c>ApiKey</c> authentication scheme: <c>Authorization: ApiKey &lt;key&gt;</c> or <c>X-Api-Key: &lt;key&gt;</c>,
/// checked against <see cref="ApiKeyStore"/>. A valid key becomes a principal with scope <c>ingest:write</c> and one
/// <c>account</c> claim per allowed account (none when the key may write every account). Only the ingest endpoint
/// accepts this scheme.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiOptions api)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? presented = null;
        var authorization = Request.Headers.Authorization.ToString();
        if (authorization.StartsWith(SchemeName + " ", StringComparison.OrdinalIgnoreCase))
        {
            presented = authorization[(SchemeName.Length + 1)..].Trim();
        }
        else if (Request.Headers.TryGetValue("X-Api-Key", out var header))
        {
            presented = header.ToString().Trim();
        }

        if (presented is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (presented.Length == 0 || api.HttpIngest?.ApiKeys?.Find(presented) is not { } key)
        {
            return Task.FromResult(AuthenticateResult.Fail("the API key is not valid"));
        }

        var claims = new List<Claim>
        {
            new("sub", "apikey:" + key.Id),
            new("scope", ApiScopes.IngestWrite),
        };
        if (key.Accounts is not null)
        {
            foreach (var account in key.Accounts)
            {
                claims.Add(new Claim(ApiScopes.AccountClaim, account));
            }
        }

        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
    }

    // A presented but unknown key is answered here (the bearer scheme's challenge then sees a started response and
    // stays quiet); without a key the bearer scheme's challenge explains what is needed.
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync().ConfigureAwait(false);
        if (result.Failure is null)
        {
            return;
        }

        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = SchemeName;
        var problems = Context.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = new ProblemDetails { Status = 401, Title = "unauthorized", Type = "urn:metering:problem:unauthorized", Detail = "the API key is not valid" },
        }).ConfigureAwait(false);
    }
}
