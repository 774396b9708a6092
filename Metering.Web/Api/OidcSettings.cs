namespace Metering.Web.Api;

/// <summary>
/// What the operator configures for the console's sign-in through an OpenID Connect provider (<c>serve --oidc-issuer
/// --oidc-client-id</c>, docs/console.md): a public client (no secret) using the authorization code flow with PKCE S256.
/// <see cref="Create"/> checks every value before anything is fetched; <see cref="OidcProvider.DiscoverAsync"/> then
/// reads the provider's discovery document. Immutable.
/// </summary>
public sealed record OidcSettings
{
    private OidcSettings(Uri issuer, string clientId, IReadOnlyList<string> scopes, Uri? redirectUri, string name)
    {
        Issuer = issuer;
        ClientId = clientId;
        Scopes = scopes;
        RedirectUri = redirectUri;
        Name = name;
    }

    /// <summary>The provider's issuer identifier, exactly as its tokens and discovery document name it.</summary>
    public Uri Issuer { get; }

    /// <summary>The issuer as text, exactly as configured (the comparison with <c>iss</c> is on this string).</summary>
    public string IssuerText => Issuer.OriginalString;

    /// <summary>The console's client id at the provider.</summary>
    public string ClientId { get; }

    /// <summary>The scopes asked for; always holds <c>openid</c>.</summary>
    public IReadOnlyList<string> Scopes { get; }

    /// <summary>The callback registered at the provider; null: this server's own <c>/console/callback</c> on the address the browser used.</summary>
    public Uri? RedirectUri { get; }

    /// <summary>What the sign-in button calls the provider ("Sign in with NAME"); default the issuer's host.</summary>
    public string Name { get; }

    /// <summary>The path of the console's callback page (served as the console's index).</summary>
    public const string CallbackPath = "/console/callback";

    /// <summary>
    /// Checks and builds the settings. <paramref name="scopes"/> is space-separated (default <c>openid</c>; <c>openid</c>
    /// is added when missing, as the sign-in checks the ID token's nonce).
    /// </summary>
    /// <exception cref="ArgumentException">a value is unusable; the message names the option and what to change.</exception>
    public static OidcSettings Create(string issuer, string clientId, string? scopes = null, string? redirectUri = null, string? name = null)
    {
        var issuerUri = SecureUrl(issuer, "--oidc-issuer");
        if (!string.IsNullOrEmpty(issuerUri.Query) || !string.IsNullOrEmpty(issuerUri.Fragment))
        {
            // OpenID Connect Discovery 1.0, section 2: the issuer is a URL with no query or fragment.
            throw new ArgumentException($"--oidc-issuer must be a URL without a query or fragment (OpenID Connect Discovery 1.0 section 2), got '{issuer}'");
        }

        if (string.IsNullOrWhiteSpace(clientId) || clientId.Length > 256 || clientId.Any(c => c < 0x20 || c > 0x7e))
        {
            throw new ArgumentException($"--oidc-client-id must be the console's client id at the provider: 1 to 256 printable ASCII characters, got '{clientId}'");
        }

        var list = new List<string>();
        foreach (var scope in (scopes ?? "openid").Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            // RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            if (scope.Any(c => c < 0x21 || c > 0x7e || c is '"' or '\\'))
            {
                throw new ArgumentException($"--oidc-scopes: '{scope}' is not a scope token (RFC 6749 section 3.3: printable ASCII without space, '\"' or '\\')");
            }

            if (!list.Contains(scope, StringComparer.Ordinal))
            {
                list.Add(scope);
            }
        }

        if (!list.Contains("openid", StringComparer.Ordinal))
        {
            list.Insert(0, "openid");
        }

        Uri? redirect = null;
        if (redirectUri is not null)
        {
            if (!Uri.TryCreate(redirectUri, UriKind.Absolute, out redirect) || redirect.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(redirect.Fragment))
            {
                throw new ArgumentException($"--oidc-redirect-uri must be an absolute http(s) URL without a fragment (the console's {CallbackPath} as the browser reaches it), got '{redirectUri}'");
            }
        }

        var label = string.IsNullOrWhiteSpace(name) ? issuerUri.Host : name.Trim();
        if (label.Length > 64)
        {
            throw new ArgumentException($"--oidc-name is at most 64 characters, got {label.Length}");
        }

        return new OidcSettings(issuerUri, clientId, list, redirect, label);
    }

    /// <summary>
    /// An absolute https URL, or http on a loopback host (a provider on this machine: development and tests): a token
    /// endpoint reached over plain http elsewhere would hand out bearer tokens to anyone on the path.
    /// </summary>
    internal static Uri SecureUrl(string text, string what)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"{what} must be an absolute https URL, got '{text}'");
        }

        if (uri.Scheme == "http" && !uri.IsLoopback)
        {
            throw new ArgumentException($"{what} must use https (plain http only on a loopback host such as 127.0.0.1), got '{text}'");
        }

        return uri;
    }
}
