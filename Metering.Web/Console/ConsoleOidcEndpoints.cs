using System.Text.Json;
using Metering.Web.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Metering.Web.WebConsole;

/// <summary>
/// The console's sign-in through an OpenID Connect provider (docs/console.md, "Signing in through the identity
/// provider"): <c>GET /console/oidc.json</c> tells the page whether a provider is configured and where to send the
/// browser; <c>POST /console/oidc/token</c> redeems the code the provider sent back, with the browser's PKCE verifier,
/// at the provider's token endpoint. The page cannot do that itself: its policy (<c>connect-src 'self'</c>) allows no
/// fetch to another origin, and keeping that policy fixed is worth a same-origin hop. The hop adds no secret (a public
/// client); it fixes the client id and redirect URI to the configured ones and forwards only the code and verifier.
/// Both are anonymous: nothing here is account data, and the code is worthless without its verifier.
/// </summary>
internal static class ConsoleOidcEndpoints
{
    /// <summary>Largest <c>POST /console/oidc/token</c> body (a code and a verifier are a few hundred bytes).</summary>
    internal const int MaxTokenRequestBytes = 16 * 1024;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/console/oidc.json", Configuration).AllowAnonymous().ExcludeFromDescription();
        app.MapPost("/console/oidc/token", RedeemAsync).AllowAnonymous().ExcludeFromDescription();
    }

    /// <summary>The callback the provider sends the browser back to: configured, or this server's own on the address the browser used.</summary>
    internal static Uri RedirectUri(OidcSettings settings, HttpRequest request) =>
        settings.RedirectUri ?? new Uri($"{request.Scheme}://{request.Host}{OidcSettings.CallbackPath}");

    private static IResult Configuration(HttpContext http, ApiOptions options)
    {
        NoStore(http);
        if (options.Oidc is not { } oidc)
        {
            return TypedResults.Json(new Dictionary<string, object> { ["enabled"] = false });
        }

        var s = oidc.Settings;
        return TypedResults.Json(new Dictionary<string, object>
        {
            ["enabled"] = true,
            ["name"] = s.Name,
            ["issuer"] = s.IssuerText,
            ["client_id"] = s.ClientId,
            ["scopes"] = string.Join(' ', s.Scopes),
            ["authorization_endpoint"] = oidc.AuthorizationEndpoint.OriginalString,
            ["token_endpoint"] = oidc.TokenEndpoint.OriginalString,
            ["redirect_uri"] = RedirectUri(s, http.Request).OriginalString,
        });
    }

    private static async Task<IResult> RedeemAsync(HttpContext http, ApiOptions options, CancellationToken cancellationToken)
    {
        NoStore(http);
        if (options.Oidc is not { } oidc)
        {
            return TypedResults.Problem("no identity provider is configured on this server (metering serve --oidc-issuer ... --oidc-client-id ...)",
                statusCode: StatusCodes.Status404NotFound, title: "not found", type: "urn:metering:problem:oidc-not-configured");
        }

        if (!http.Request.HasJsonContentType())
        {
            return TypedResults.Problem($"the body must be JSON (Content-Type: application/json) with code and code_verifier, got '{http.Request.ContentType}'",
                statusCode: StatusCodes.Status415UnsupportedMediaType, title: "unsupported media type", type: "urn:metering:problem:media-type");
        }

        // Kestrel answers 413 past this (the exception handler keeps its status).
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = MaxTokenRequestBytes;
        }

        string code, verifier;
        try
        {
            using var body = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (body.RootElement.ValueKind != JsonValueKind.Object)
            {
                return ApiProblems.Invalid("$", "must be an object: {\"code\": \"...\", \"code_verifier\": \"...\"}");
            }

            code = body.RootElement.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "";
            verifier = body.RootElement.TryGetProperty("code_verifier", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
        }
        catch (JsonException e)
        {
            return ApiProblems.Invalid("$", $"not JSON: {e.Message}");
        }

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (code.Length is 0 or > 4096)
        {
            errors["$.code"] = ["must be the authorization code the provider returned (1 to 4096 characters)"];
        }

        if (!IsCodeVerifier(verifier))
        {
            errors["$.code_verifier"] = ["must be a PKCE code verifier: 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 section 4.1)"];
        }

        if (errors.Count > 0)
        {
            return ApiProblems.Invalid(errors);
        }

        (int Status, JsonDocument? Body) answer;
        try
        {
            answer = await oidc.RedeemAsync(code, verifier, RedirectUri(oidc.Settings, http.Request), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return BadGateway($"the identity provider's token endpoint {oidc.TokenEndpoint} cannot be reached: {e.Message}");
        }

        using var provider = answer.Body;
        return Relay(answer.Status, provider?.RootElement, oidc);
    }

    private static IResult Relay(int status, JsonElement? body, OidcProvider oidc)
    {
        static string? Text(JsonElement? body, string name) =>
            body is { } b && b.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

        if (status == StatusCodes.Status200OK && Text(body, "access_token") is { Length: > 0 } accessToken)
        {
            // Only what the page uses: a refresh token (if any) stays out of the browser, which signs in again instead.
            var tokens = new Dictionary<string, object> { ["access_token"] = accessToken, ["token_type"] = Text(body, "token_type") ?? "Bearer" };
            if (Text(body, "id_token") is { } idToken)
            {
                tokens["id_token"] = idToken;
            }

            if (body!.Value.TryGetProperty("expires_in", out var expires) && expires.ValueKind == JsonValueKind.Number && expires.TryGetInt64(out var seconds))
            {
                tokens["expires_in"] = seconds;
            }

            if (Text(body, "scope") is { } scope)
            {
                tokens["scope"] = scope;
            }

            return TypedResults.Json(tokens);
        }

        if (status is >= 400 and < 500 && Text(body, "error") is { Length: > 0 } error)
        {
            // RFC 6749 section 5.2: invalid_grant is a wrong, used or expired code, or a verifier that does not match.
            var description = Text(body, "error_description");
            return TypedResults.Problem($"the identity provider refused the code: {error}{(description is null ? "" : ": " + description)}",
                statusCode: StatusCodes.Status400BadRequest, title: "sign-in refused", type: "urn:metering:problem:oidc-token-refused",
                extensions: new Dictionary<string, object?> { ["error"] = error });
        }

        return status == StatusCodes.Status200OK
            ? BadGateway($"the identity provider's token endpoint {oidc.TokenEndpoint} answered without an access_token")
            : BadGateway($"the identity provider's token endpoint {oidc.TokenEndpoint} answered HTTP {status}{(body is null ? " without a JSON body" : "")}");
    }

    private static ProblemHttpResult BadGateway(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status502BadGateway, title: "identity provider unavailable", type: "urn:metering:problem:oidc-provider");

    // RFC 7636 section 4.1: code-verifier = 43*128unreserved
    internal static bool IsCodeVerifier(string s) =>
        s.Length is >= 43 and <= 128 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~');

    // Tokens and the provider's addresses are never cached by the browser or a proxy (RFC 6749 section 5.1).
    private static void NoStore(HttpContext http)
    {
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.Pragma = "no-cache";
        http.Response.Headers.XContentTypeOptions = "nosniff";
    }
}
