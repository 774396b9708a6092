using System.Net.Http.Headers;
using System.Text.Json;

namespace Metering.Web.Api;

/// <summary>
/// An OpenID Connect provider the console signs in through (docs/console.md): the settings, and what its discovery
/// document (<c>{issuer}/.well-known/openid-configuration</c>) says about it, read once at start. Redeems an
/// authorization code at the token endpoint for the console (<c>POST /console/oidc/token</c>): a public client, so
/// nothing secret is added; the PKCE verifier proves the code belongs to the browser that asked for it.
/// Thread-safe (the HTTP client is shared; everything else is immutable).
/// </summary>
public sealed class OidcProvider : IDisposable
{
    /// <summary>Largest discovery document or token response read (a provider's are a few kB).</summary>
    internal const int MaxResponseBytes = 256 * 1024;

    private readonly HttpClient _http;

    private OidcProvider(OidcSettings settings, Uri authorizationEndpoint, Uri tokenEndpoint, Uri jwksUri, HttpClient http)
    {
        Settings = settings;
        AuthorizationEndpoint = authorizationEndpoint;
        TokenEndpoint = tokenEndpoint;
        JwksUri = jwksUri;
        _http = http;
    }

    /// <summary>What the operator configured.</summary>
    public OidcSettings Settings { get; }

    /// <summary>Where the browser is sent to sign in (<c>authorization_endpoint</c>).</summary>
    public Uri AuthorizationEndpoint { get; }

    /// <summary>Where codes are redeemed (<c>token_endpoint</c>).</summary>
    public Uri TokenEndpoint { get; }

    /// <summary>The provider's signing keys (<c>jwks_uri</c>): what <c>serve</c> verifies tokens with unless <c>--jwks</c> names another document.</summary>
    public Uri JwksUri { get; }

    /// <summary>The discovery document's address for <paramref name="issuer"/> (OpenID Connect Discovery 1.0 section 4).</summary>
    public static Uri DiscoveryUri(Uri issuer) => new(issuer.OriginalString.TrimEnd('/') + "/.well-known/openid-configuration");

    /// <summary>Reads and checks the provider's discovery document (<paramref name="handler"/>: tests' HTTP handler; null: a fresh one).</summary>
    /// <exception cref="InvalidDataException">the document cannot be read, names another issuer, lacks an endpoint, or does not offer the code flow with S256.</exception>
    public static async Task<OidcProvider> DiscoverAsync(OidcSettings settings, CancellationToken cancellationToken, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        http.Timeout = TimeSpan.FromSeconds(10);
        try
        {
            var provider = await ReadDiscoveryAsync(settings, http, cancellationToken).ConfigureAwait(false);
            http = null!; // owned by the provider now
            return provider;
        }
        finally
        {
            http?.Dispose();
        }
    }

    private static async Task<OidcProvider> ReadDiscoveryAsync(OidcSettings settings, HttpClient http, CancellationToken cancellationToken)
    {
        var address = DiscoveryUri(settings.Issuer);
        string where = $"discovery document {address}";
        JsonDocument document;
        try
        {
            using var response = await http.GetAsync(address, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase} (is --oidc-issuer the provider's issuer?)");
            }

            document = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidDataException && !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidDataException($"{where}: cannot be read: {e.Message}", e);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{where}: not JSON: {e.Message}", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{where}: expected a JSON object, got {root.ValueKind}");
            }

            var issuer = RequiredString(root, "issuer", where);
            if (!string.Equals(issuer, settings.IssuerText, StringComparison.Ordinal))
            {
                // Discovery section 4.3: the document's issuer must be identical to the one it was fetched for; a
                // different one means tokens would name an issuer this server does not accept (or a mix-up).
                throw new InvalidDataException($"{where}: $.issuer is '{issuer}', not the configured --oidc-issuer '{settings.IssuerText}' (OpenID Connect Discovery 1.0 section 4.3 requires them to be identical)");
            }

            var authorization = Endpoint(root, "authorization_endpoint", where);
            var token = Endpoint(root, "token_endpoint", where);
            var jwks = Endpoint(root, "jwks_uri", where);
            RequireListed(root, "response_types_supported", "code", where, "the console uses the authorization code flow");
            RequireListed(root, "grant_types_supported", "authorization_code", where, "the console uses the authorization code flow");
            RequireListed(root, "code_challenge_methods_supported", "S256", where, "the console sends PKCE S256 challenges");
            return new OidcProvider(settings, authorization, token, jwks, http);
        }
    }

    private static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength is > MaxResponseBytes)
        {
            throw new InvalidDataException($"the answer is {response.Content.Headers.ContentLength} bytes, more than the {MaxResponseBytes} read");
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxResponseBytes)
            {
                throw new InvalidDataException($"the answer is more than the {MaxResponseBytes} bytes read");
            }

            buffer.Write(chunk, 0, read);
        }

        return JsonDocument.Parse(buffer.ToArray());
    }

    private static string RequiredString(JsonElement root, string name, string where) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text
            ? text
            : throw new InvalidDataException($"{where}: $.{name} is missing or not a string");

    private static Uri Endpoint(JsonElement root, string name, string where)
    {
        var text = RequiredString(root, name, where);
        try
        {
            return OidcSettings.SecureUrl(text, $"{where}: $.{name}");
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    // A list the document may leave out (then the provider's defaults apply); when given it must hold what we use.
    private static void RequireListed(JsonElement root, string name, string needed, string where, string why)
    {
        if (!root.TryGetProperty(name, out var list))
        {
            return;
        }

        if (list.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"{where}: $.{name} is not an array");
        }

        foreach (var item in list.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String && item.GetString() == needed)
            {
                return;
            }
        }

        throw new InvalidDataException($"{where}: $.{name} does not list '{needed}' ({why})");
    }

    /// <summary>
    /// Redeems <paramref name="code"/> at the token endpoint (RFC 6749 section 4.1.3 with RFC 7636's code_verifier),
    /// for this client and <paramref name="redirectUri"/>.
    /// </summary>
    /// <returns>the provider's answer: its HTTP status and its JSON body (null when the body is not a JSON object).</returns>
    /// <exception cref="HttpRequestException">the provider cannot be reached or answers too much.</exception>
    internal async Task<(int Status, JsonDocument? Body)> RedeemAsync(string code, string codeVerifier, Uri redirectUri, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, TokenEndpoint)
        {
            Content = new FormUrlEncodedContent(
            [
                new("grant_type", "authorization_code"),
                new("code", code),
                new("redirect_uri", redirectUri.OriginalString),
                new("client_id", Settings.ClientId),
                new("code_verifier", codeVerifier),
            ]),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        try
        {
            var body = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
            if (body.RootElement.ValueKind == JsonValueKind.Object)
            {
                return ((int)response.StatusCode, body);
            }

            body.Dispose();
            return ((int)response.StatusCode, null);
        }
        catch (JsonException)
        {
            return ((int)response.StatusCode, null);
        }
        catch (InvalidDataException e)
        {
            throw new HttpRequestException(e.Message, e);
        }
    }

    /// <summary>Disposes the HTTP client.</summary>
    public void Dispose() => _http.Dispose();
}
