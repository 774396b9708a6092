using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Metering.Cli;
using Metering.Ledger.Migrations;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Metering.Web.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.Tokens;
using Npgsql;

namespace Metering.Tests.WebConsole;

/// <summary>
/// The server side of the console's OpenID Connect sign-in, over HTTP without a browser: the settings' checks, the
/// discovery document's checks (issuer, endpoints, S256), <c>serve</c>'s start-up errors, <c>/console/oidc.json</c>
/// and the same-origin code redemption <c>POST /console/oidc/token</c> against a <see cref="TestOidcProvider"/>.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ConsoleOidcServerTests(PostgresFixture postgres)
{
    private static readonly string Verifier = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));

    private static string Challenge(string verifier) => Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));

    [Fact]
    public void The_settings_refuse_plain_http_off_loopback_an_issuer_with_a_query_a_bad_client_id_or_scope_and_always_ask_for_openid()
    {
        static string Refused(Func<OidcSettings> create) => Assert.Throws<ArgumentException>(create).Message;

        Assert.Contains("must use https", Refused(() => OidcSettings.Create("http://idp.example.com", "c")), StringComparison.Ordinal);
        Assert.Contains("absolute https URL", Refused(() => OidcSettings.Create("idp.example.com", "c")), StringComparison.Ordinal);
        Assert.Contains("without a query or fragment", Refused(() => OidcSettings.Create("https://idp.example.com/?tenant=1", "c")), StringComparison.Ordinal);
        Assert.Contains("--oidc-client-id", Refused(() => OidcSettings.Create("https://idp.example.com", " ")), StringComparison.Ordinal);
        Assert.Contains("'usage\"read' is not a scope token", Refused(() => OidcSettings.Create("https://idp.example.com", "c", "openid usage\"read")), StringComparison.Ordinal);
        Assert.Contains("--oidc-redirect-uri", Refused(() => OidcSettings.Create("https://idp.example.com", "c", redirectUri: "/console/callback")), StringComparison.Ordinal);

        var settings = OidcSettings.Create("https://idp.example.com/realms/x", "console", "usage:read billing:read usage:read");
        Assert.Equal(["openid", "usage:read", "billing:read"], settings.Scopes);
        Assert.Equal("idp.example.com", settings.Name);
        Assert.Equal("https://idp.example.com/realms/x/.well-known/openid-configuration", OidcProvider.DiscoveryUri(settings.Issuer).OriginalString);
        Assert.Equal("http://127.0.0.1:9/", OidcSettings.Create("http://127.0.0.1:9/", "c").IssuerText); // loopback: plain http is fine
    }

    [Fact]
    public async Task Discovery_refuses_another_issuer_a_missing_or_plain_http_endpoint_no_s256_no_json_and_an_unreachable_provider_naming_the_field()
    {
        var document = "";
        var status = 200;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var idp = builder.Build();
        idp.MapGet("/.well-known/openid-configuration", () => Results.Text(document, "application/json", statusCode: status));
        await idp.StartAsync();
        var issuer = idp.Urls.Single().TrimEnd('/');
        var settings = OidcSettings.Create(issuer, "console");
        string Valid(string? issuerField = null, string? token = null, string methods = "[\"S256\"]") =>
            $$"""{"issuer":"{{issuerField ?? issuer}}","authorization_endpoint":"{{issuer}}/authorize",{{(token is null ? "" : $"\"token_endpoint\":\"{token}\",")}}"jwks_uri":"{{issuer}}/jwks","code_challenge_methods_supported":{{methods}}}""";

        async Task<string> Refused(string body, int code = 200)
        {
            (document, status) = (body, code);
            return (await Assert.ThrowsAsync<InvalidDataException>(() => OidcProvider.DiscoverAsync(settings, default))).Message;
        }

        Assert.Contains($"$.issuer is 'https://elsewhere.example', not the configured --oidc-issuer '{issuer}'", await Refused(Valid("https://elsewhere.example", issuer + "/token")), StringComparison.Ordinal);
        Assert.Contains($"$.issuer is '{issuer}/', not the configured", await Refused(Valid(issuer + "/", issuer + "/token")), StringComparison.Ordinal); // identical, not "equivalent"
        Assert.Contains("$.token_endpoint is missing", await Refused(Valid()), StringComparison.Ordinal);
        Assert.Contains("$.token_endpoint must use https", await Refused(Valid(token: "http://idp.example.com/token")), StringComparison.Ordinal);
        Assert.Contains("$.code_challenge_methods_supported does not list 'S256'", await Refused(Valid(token: issuer + "/token", methods: "[\"plain\"]")), StringComparison.Ordinal);
        Assert.Contains("not JSON", await Refused("<html>"), StringComparison.Ordinal);
        Assert.Contains("HTTP 404", await Refused("{}", 404), StringComparison.Ordinal);
        Assert.Contains($"discovery document {issuer}/.well-known/openid-configuration", await Refused("{}", 404), StringComparison.Ordinal);

        (document, status) = (Valid(token: issuer + "/token"), 200);
        using var provider = await OidcProvider.DiscoverAsync(settings, default);
        Assert.Equal((issuer + "/authorize", issuer + "/token", issuer + "/jwks"), (provider.AuthorizationEndpoint.OriginalString, provider.TokenEndpoint.OriginalString, provider.JwksUri.OriginalString));

        await idp.StopAsync();
        Assert.Contains("cannot be read", (await Assert.ThrowsAsync<InvalidDataException>(() => OidcProvider.DiscoverAsync(settings, default))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_refuses_an_oidc_provider_whose_discovery_names_another_issuer_or_oidc_options_without_an_issuer_in_one_line_exit_2()
    {
        await using var idp = await TestOidcProvider.StartAsync();
        idp.DiscoveredIssuer = "https://elsewhere.example";
        var pgDir = Path.Combine(Path.GetTempPath(), "metering-pg-never-oidc-" + Guid.NewGuid().ToString("N")[..8]);
        string[] Serve(params string[] more) =>
            ["serve", "--listen", "http://127.0.0.1:0", "--jwt-issuer", "i", "--jwt-audience", "a", "--jwt-key", "base64:" + Convert.ToBase64String(new byte[32]), "--pg-dir", pgDir, .. more];

        using var stderr = new StringWriter();
        Assert.Equal(2, await Program.RunAsync(Serve("--oidc-issuer", idp.Issuer, "--oidc-client-id", TestOidcProvider.ClientId), TextWriter.Null, stderr, CancellationToken.None));
        Assert.Single(stderr.ToString().TrimEnd().Split('\n'));
        Assert.Contains($"--oidc-issuer {idp.Issuer}: discovery document {idp.Issuer}/.well-known/openid-configuration: $.issuer is 'https://elsewhere.example'", stderr.ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(pgDir)); // refused before PostgreSQL started

        using var lonely = new StringWriter();
        Assert.Equal(2, await Program.RunAsync(Serve("--oidc-client-id", "console"), TextWriter.Null, lonely, CancellationToken.None));
        Assert.Contains("give --oidc-issuer URL too", lonely.ToString(), StringComparison.Ordinal);
        using var noClient = new StringWriter();
        Assert.Equal(2, await Program.RunAsync(Serve("--oidc-issuer", idp.Issuer), TextWriter.Null, noClient, CancellationToken.None));
        Assert.Contains("--oidc-issuer needs --oidc-client-id", noClient.ToString(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(pgDir));
    }

    [Fact]
    public async Task Serve_with_an_oidc_issuer_tells_the_console_about_the_provider_and_accepts_its_tokens_through_the_discovered_jwks()
    {
        await using var idp = await TestOidcProvider.StartAsync();
        idp.Audience = "metering-api";
        var cs = await postgres.NewDatabaseAsync();
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        using var stop = new CancellationTokenSource();
        using var stderr = new StringWriter();
        var serving = Task.Run(() => Program.RunAsync(
            ["serve", "--listen", $"http://127.0.0.1:{port}", "--jwt-issuer", "metering-dev", "--jwt-audience", "metering-api", "--jwt-key", "base64:" + Convert.ToBase64String(ApiTestHost.Key),
                "--pg", cs, "--oidc-issuer", idp.Issuer, "--oidc-client-id", TestOidcProvider.ClientId, "--oidc-name", "Test IdP"], TextWriter.Null, stderr, stop.Token));
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (true)
            {
                Assert.False(serving.IsCompleted, $"serve exited: {stderr}");
                try
                {
                    using var health = await client.GetAsync("/healthz");
                    if (health.IsSuccessStatusCode)
                    {
                        break;
                    }
                }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline)
                {
                    // not listening yet
                }

                await Task.Delay(200);
            }

            var config = await ApiTestHost.Json(await client.GetAsync("/console/oidc.json"));
            Assert.Equal((true, idp.Issuer, "Test IdP", $"http://127.0.0.1:{port}{OidcSettings.CallbackPath}", "openid"),
                (config.GetProperty("enabled").GetBoolean(), config.GetProperty("issuer").GetString(), config.GetProperty("name").GetString(),
                    config.GetProperty("redirect_uri").GetString(), config.GetProperty("scopes").GetString()));

            async Task<HttpStatusCode> ApiWith(string token)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/pricebooks");
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
                using var response = await client.SendAsync(request);
                return response.StatusCode;
            }

            // No --jwks: the provider's discovered jwks_uri verifies its tokens; the dev HS256 tokens still pass.
            Assert.Equal(HttpStatusCode.OK, await ApiWith(idp.AccessToken()));
            Assert.Equal(HttpStatusCode.OK, await ApiWith(ApiTestHost.Token("billing:read", issuer: "metering-dev")));
            idp.Audience = "another-api";
            Assert.Equal(HttpStatusCode.Unauthorized, await ApiWith(idp.AccessToken()));
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(0, await serving.WaitAsync(TimeSpan.FromSeconds(60)));
        }
    }

    [Fact]
    public async Task Without_a_provider_the_console_is_told_none_is_configured_and_the_token_endpoint_answers_404()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var client = host.Client();
        using var config = await client.GetAsync("/console/oidc.json");
        Assert.Equal(HttpStatusCode.OK, config.StatusCode);
        Assert.Equal("""{"enabled":false}""", await config.Content.ReadAsStringAsync());
        using var redeem = await client.PostAsync("/console/oidc/token", new StringContent($$"""{"code":"c","code_verifier":"{{Verifier}}"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NotFound, redeem.StatusCode);
        Assert.Equal("urn:metering:problem:oidc-not-configured", (await ApiTestHost.Json(redeem)).GetProperty("type").GetString());

        // The callback page is the console itself, under the console's policy.
        using var callback = await client.GetAsync("/console/callback?code=x&state=y");
        Assert.Equal(HttpStatusCode.OK, callback.StatusCode);
        Assert.Contains("connect-src 'self'", callback.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Contains("app.js", await callback.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_console_token_endpoint_redeems_a_code_only_with_its_verifier_and_once_and_the_providers_token_passes_the_api_while_hs256_cannot_pose_as_the_provider()
    {
        await using var idp = await TestOidcProvider.StartAsync();
        var oidc = await OidcProvider.DiscoverAsync(OidcSettings.Create(idp.Issuer, TestOidcProvider.ClientId, "openid billing:read", name: "Test IdP"), default);
        await using var jwks = await JwksKeySource.StartAsync(oidc.JwksUri.OriginalString, TimeSpan.FromHours(1), TextWriter.Null, default);
        using var discovered = oidc;
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        var options = new ApiOptions { JwtIssuer = ApiTestHost.Issuer, JwtAudience = ApiTestHost.Audience, JwtSigningKey = ApiTestHost.Key, Jwks = jwks, Oidc = oidc };
        await using var app = ApiHost.Build(options, db, new InMemoryUsageStore(), b => b.WebHost.UseUrls("http://127.0.0.1:0"));
        await app.StartAsync();
        var url = app.Urls.Single().TrimEnd('/');
        var callback = url + OidcSettings.CallbackPath;
        idp.RedirectUris.Add(callback);
        using var client = new HttpClient { BaseAddress = new Uri(url) };

        // What the page reads: where to send the browser, and the callback it must come back to. No secret.
        using var config = await client.GetAsync("/console/oidc.json");
        Assert.Equal("no-store", config.Headers.CacheControl?.ToString());
        var c = await ApiTestHost.Json(config);
        Assert.True(c.GetProperty("enabled").GetBoolean());
        Assert.Equal((idp.Issuer, TestOidcProvider.ClientId, idp.Issuer + "/authorize", callback, "openid billing:read", "Test IdP"),
            (c.GetProperty("issuer").GetString(), c.GetProperty("client_id").GetString(), c.GetProperty("authorization_endpoint").GetString(),
                c.GetProperty("redirect_uri").GetString(), c.GetProperty("scopes").GetString(), c.GetProperty("name").GetString()));

        // The browser's trip to the provider, done here by hand: a code for this verifier's challenge.
        using var browserless = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        async Task<string> CodeAsync()
        {
            var authorize = $"{idp.Issuer}/authorize?response_type=code&client_id={TestOidcProvider.ClientId}&redirect_uri={Uri.EscapeDataString(callback)}&scope=openid&state=s&nonce=n&code_challenge={Challenge(Verifier)}&code_challenge_method=S256";
            using var back = await browserless.GetAsync(authorize);
            Assert.Equal(HttpStatusCode.Redirect, back.StatusCode);
            Assert.StartsWith(callback + "?code=", back.Headers.Location!.OriginalString, StringComparison.Ordinal);
            return idp.Authorizations[^1].Code;
        }

        Task<HttpResponseMessage> Redeem(string body, string type = "application/json") =>
            client.PostAsync("/console/oidc/token", new StringContent(body, Encoding.UTF8, type));
        static string Body(string code, string verifier) => JsonSerializer.Serialize(new Dictionary<string, string> { ["code"] = code, ["code_verifier"] = verifier });

        var code = await CodeAsync();
        using (var wrong = await Redeem(Body(code, Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32)))))
        {
            Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
            var problem = await ApiTestHost.Json(wrong);
            Assert.Equal(("urn:metering:problem:oidc-token-refused", "invalid_grant"), (problem.GetProperty("type").GetString(), problem.GetProperty("error").GetString()));
            Assert.Contains("the code_verifier does not match the code_challenge", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        code = await CodeAsync();
        string accessToken;
        using (var right = await Redeem(Body(code, Verifier)))
        {
            Assert.Equal(HttpStatusCode.OK, right.StatusCode);
            Assert.Equal("no-store", right.Headers.CacheControl?.ToString());
            var tokens = await ApiTestHost.Json(right);
            accessToken = tokens.GetProperty("access_token").GetString()!;
            Assert.True(tokens.TryGetProperty("id_token", out _));
            Assert.Equal(600, tokens.GetProperty("expires_in").GetInt64());
            Assert.False(tokens.TryGetProperty("refresh_token", out _)); // never handed to the page
        }

        using (var replay = await Redeem(Body(code, Verifier)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
            Assert.Contains("the code was already used", (await ApiTestHost.Json(replay)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // The provider's token (its issuer, its key from the discovered jwks_uri) passes the API; an HS256 token that
        // names the provider as issuer does not: only the provider's keys verify the provider's tokens.
        async Task<HttpStatusCode> ApiWith(string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/pricebooks");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await ApiWith(accessToken));
        Assert.Equal(HttpStatusCode.OK, await ApiWith(ApiTestHost.Token("billing:read"))); // the HS256 key still works for its own issuer
        Assert.Equal(HttpStatusCode.Unauthorized, await ApiWith(ApiTestHost.Token("billing:read", issuer: idp.Issuer)));

        // Bad requests are refused here, before the provider is asked.
        var asked = idp.TokenRequests;
        using (var form = await Redeem("code=x", "application/x-www-form-urlencoded"))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, form.StatusCode);
        }

        using (var shortVerifier = await Redeem(Body("x", "too-short")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, shortVerifier.StatusCode);
            Assert.True((await ApiTestHost.Json(shortVerifier)).GetProperty("errors").TryGetProperty("$.code_verifier", out _));
        }

        using (var notJson = await Redeem("{"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        }

        using (var huge = await Redeem(Body(new string('c', 20_000), Verifier)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        }

        Assert.Equal(asked, idp.TokenRequests);

        // The provider down: 502 naming its token endpoint.
        await idp.DisposeAsync();
        using var down = await Redeem(Body("x", Verifier));
        Assert.Equal(HttpStatusCode.BadGateway, down.StatusCode);
        Assert.Contains($"{idp.Issuer}/token cannot be reached", (await ApiTestHost.Json(down)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
