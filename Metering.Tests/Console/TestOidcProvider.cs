using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Metering.Tests.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Metering.Tests.WebConsole;

/// <summary>
/// A small OpenID Connect provider on loopback Kestrel, for the console's sign-in tests: a discovery document, a JWKS
/// with an RSA key made here, <c>/authorize</c> that approves at once (redirects back with a code and the state, having
/// recorded the PKCE challenge) or, when <see cref="Hold"/> is set, issues the code without sending the browser back,
/// and <c>/token</c> that checks what a real provider checks: the code exists and is used once, the client id and
/// redirect URI are the ones it was issued for, and BASE64URL(SHA-256(code_verifier)) is the challenge. It issues an
/// RS256 access token for the API (iss, aud = the API's audience, sub, scope, optional account) and an ID token
/// (aud = the client id, the nonce).
/// </summary>
internal sealed class TestOidcProvider : IAsyncDisposable
{
    public const string ClientId = "metering-console";

    private readonly WebApplication _app;
    private readonly RSA _key = RSA.Create(2048);
    private readonly ConcurrentDictionary<string, Authorization> _codes = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<Authorization> _authorizations = new();
    private readonly ConcurrentQueue<string> _tokenErrors = new();

    /// <summary>One approved <c>/authorize</c> request, as the provider recorded it.</summary>
    public sealed record Authorization(string Code, string State, string Nonce, string Challenge, string RedirectUri, string ClientId, string Scope)
    {
        public bool Redeemed { get; set; }
    }

    private TestOidcProvider(WebApplication app) => _app = app;

    /// <summary><c>http://127.0.0.1:PORT</c>: the issuer, exactly as its tokens and discovery document name it.</summary>
    public string Issuer { get; private set; } = "";

    /// <summary>The redirect URIs registered for <see cref="ClientId"/>; anything else is refused at <c>/authorize</c>.</summary>
    public ConcurrentBag<string> RedirectUris { get; } = [];

    /// <summary>The issuer the discovery document names (default <see cref="Issuer"/>; tests set another to see it refused).</summary>
    public string? DiscoveredIssuer { get; set; }

    /// <summary>When set, <c>/authorize</c> answers access_denied (the user declined).</summary>
    public bool Deny { get; set; }

    /// <summary>When set, <c>/authorize</c> issues the code but shows a page instead of sending the browser back.</summary>
    public bool Hold { get; set; }

    /// <summary>The <c>scope</c> claim of the access tokens.</summary>
    public string Scopes { get; set; } = "usage:read billing:read";

    /// <summary>The <c>account</c> claim of the access tokens; null: none (the token sees every account).</summary>
    public string? Account { get; set; }

    /// <summary>The <c>sub</c> of the tokens.</summary>
    public string Subject { get; set; } = "ada@example.test";

    /// <summary>The <c>aud</c> of the access tokens (the API's).</summary>
    public string Audience { get; set; } = ApiTestHost.Audience;

    /// <summary>Every approved authorization, in order.</summary>
    public IReadOnlyList<Authorization> Authorizations => [.. _authorizations];

    /// <summary>Every refusal of <c>/token</c> (error: reason), in order.</summary>
    public IReadOnlyList<string> TokenErrors => [.. _tokenErrors];

    /// <summary>How many times <c>/token</c> was asked.</summary>
    public int TokenRequests => _tokenRequests;

    private int _tokenRequests;

    public static async Task<TestOidcProvider> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var provider = new TestOidcProvider(app);
        app.MapGet("/.well-known/openid-configuration", provider.Discovery);
        app.MapGet("/jwks", provider.Jwks);
        app.MapGet("/authorize", provider.Authorize);
        app.MapPost("/token", provider.TokenAsync);
        await app.StartAsync();
        provider.Issuer = app.Urls.Single().TrimEnd('/');
        return provider;
    }

    /// <summary>The token a user of this provider would hold, made directly (no browser).</summary>
    public string AccessToken(DateTime? expires = null) => Sign(AccessClaims(), expires ?? DateTime.UtcNow.AddMinutes(10));

    private IResult Discovery() => Results.Json(new Dictionary<string, object>
    {
        ["issuer"] = DiscoveredIssuer ?? Issuer,
        ["authorization_endpoint"] = Issuer + "/authorize",
        ["token_endpoint"] = Issuer + "/token",
        ["jwks_uri"] = Issuer + "/jwks",
        ["response_types_supported"] = new[] { "code" },
        ["grant_types_supported"] = new[] { "authorization_code" },
        ["code_challenge_methods_supported"] = new[] { "S256" },
        ["subject_types_supported"] = new[] { "public" },
        ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        ["token_endpoint_auth_methods_supported"] = new[] { "none" },
    });

    private IResult Jwks()
    {
        var p = _key.ExportParameters(false);
        return Results.Json(new { keys = new[] { new { kty = "RSA", use = "sig", alg = "RS256", kid = "idp-1", n = Base64UrlEncoder.Encode(p.Modulus), e = Base64UrlEncoder.Encode(p.Exponent) } } });
    }

    private IResult Authorize(HttpRequest request)
    {
        var q = request.Query;
        string redirect = q["redirect_uri"].ToString(), state = q["state"].ToString();
        // An unknown client or redirect URI is never redirected to (RFC 6749 section 4.1.2.1): the user sees an error here.
        if (q["client_id"] != ClientId || !RedirectUris.Contains(redirect))
        {
            return Results.BadRequest($"unknown client '{q["client_id"]}' or redirect_uri '{redirect}'");
        }

        string Back(string query) => redirect + (redirect.Contains('?', StringComparison.Ordinal) ? "&" : "?") + query + "&iss=" + Uri.EscapeDataString(Issuer);
        if (q["response_type"] != "code" || q["code_challenge_method"] != "S256" || string.IsNullOrEmpty(q["code_challenge"]) || !q["scope"].ToString().Split(' ').Contains("openid"))
        {
            return Results.Redirect(Back("error=invalid_request&error_description=" + Uri.EscapeDataString("code flow with an S256 challenge and scope openid expected") + "&state=" + Uri.EscapeDataString(state)));
        }

        if (Deny)
        {
            return Results.Redirect(Back("error=access_denied&error_description=" + Uri.EscapeDataString("the user declined") + "&state=" + Uri.EscapeDataString(state)));
        }

        var code = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(24));
        var authorization = new Authorization(code, state, q["nonce"].ToString(), q["code_challenge"].ToString(), redirect, ClientId, q["scope"].ToString());
        _codes[code] = authorization;
        _authorizations.Enqueue(authorization);
        return Hold
            ? Results.Content("<!doctype html><title>held</title><p id=held>approved; not sent back</p>", "text/html")
            : Results.Redirect(Back("code=" + Uri.EscapeDataString(code) + "&state=" + Uri.EscapeDataString(state)));
    }

    private async Task<IResult> TokenAsync(HttpRequest request)
    {
        Interlocked.Increment(ref _tokenRequests);
        var form = await request.ReadFormAsync();
        IResult Refuse(string error, string description)
        {
            _tokenErrors.Enqueue(error + ": " + description);
            return Results.Json(new { error, error_description = description }, statusCode: 400);
        }

        if (form["grant_type"] != "authorization_code")
        {
            return Refuse("unsupported_grant_type", "only authorization_code");
        }

        if (!_codes.TryGetValue(form["code"].ToString(), out var a))
        {
            return Refuse("invalid_grant", "unknown code");
        }

        lock (a)
        {
            // Used once (RFC 6749 section 4.1.2): a second redemption is refused, whatever else it carries.
            if (a.Redeemed)
            {
                return Refuse("invalid_grant", "the code was already used");
            }

            a.Redeemed = true;
        }

        if (form["client_id"] != a.ClientId)
        {
            return Refuse("invalid_client", $"client_id '{form["client_id"]}' is not the one the code was issued to");
        }

        if (form["redirect_uri"] != a.RedirectUri)
        {
            return Refuse("invalid_grant", $"redirect_uri '{form["redirect_uri"]}' is not the one of the authorization request");
        }

        var verifier = form["code_verifier"].ToString();
        var challenge = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        if (verifier.Length is < 43 or > 128 || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(challenge), Encoding.ASCII.GetBytes(a.Challenge)))
        {
            return Refuse("invalid_grant", "the code_verifier does not match the code_challenge (S256)");
        }

        var expires = DateTime.UtcNow.AddMinutes(10);
        var id = Sign(new Dictionary<string, object> { ["sub"] = Subject, ["nonce"] = a.Nonce }, expires, audience: ClientId);
        return Results.Json(new { access_token = Sign(AccessClaims(), expires), token_type = "Bearer", expires_in = 600, id_token = id, scope = a.Scope, refresh_token = "never-handed-to-the-page" });
    }

    private Dictionary<string, object> AccessClaims()
    {
        var claims = new Dictionary<string, object> { ["sub"] = Subject, ["scope"] = Scopes };
        if (Account is not null)
        {
            claims["account"] = Account;
        }

        return claims;
    }

    private string Sign(Dictionary<string, object> claims, DateTime expires, string? audience = null) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = Issuer,
        Audience = audience ?? Audience,
        Claims = claims,
        IssuedAt = expires.AddMinutes(-20),
        NotBefore = expires.AddMinutes(-20),
        Expires = expires,
        SigningCredentials = new SigningCredentials(new RsaSecurityKey(_key) { KeyId = "idp-1" }, SecurityAlgorithms.RsaSha256),
    });

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _key.Dispose();
    }
}
