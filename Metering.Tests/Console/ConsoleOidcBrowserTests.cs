using System.Net;
using System.Text.Json;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Metering.Web.Api;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Metering.Tests.WebConsole;

/// <summary>
/// The console's sign-in through an OpenID Connect provider (authorization code + PKCE S256) in a real headless
/// Chromium: a <see cref="TestOidcProvider"/> on loopback, the console's server configured with it as <c>serve
/// --oidc-issuer</c> would be (discovery, its jwks_uri), and the browser clicking "Sign in with ...".
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ConsoleOidcBrowserTests(PostgresFixture postgres)
{
    private const string TokenKey = "metering.console.token";
    private const string PendingKey = "metering.console.oidc";

    /// <summary>A provider, the console's server using it, and a browser.</summary>
    private sealed class Rig : IAsyncDisposable
    {
        public required TestOidcProvider Idp { get; init; }
        public required ConsoleSite Site { get; init; }
        public required HeadlessChromium Browser { get; init; }

        public async ValueTask DisposeAsync()
        {
            await Browser.DisposeAsync();
            await Site.DisposeAsync();
            await Idp.DisposeAsync();
        }
    }

    private static async Task<Rig> StartAsync(PostgresFixture postgres)
    {
        var idp = await TestOidcProvider.StartAsync();
        // What serve does with --oidc-issuer/--oidc-client-id: discovery, then the discovered jwks_uri.
        var oidc = await OidcProvider.DiscoverAsync(OidcSettings.Create(idp.Issuer, TestOidcProvider.ClientId, "openid usage:read billing:read", name: "Test IdP"), default);
        var jwks = await JwksKeySource.StartAsync(oidc.JwksUri.OriginalString, TimeSpan.FromHours(1), TextWriter.Null, default);
        var site = await ConsoleSite.StartAsync(postgres, oidc: oidc, jwks: jwks);
        idp.RedirectUris.Add(site.Url + OidcSettings.CallbackPath);
        return new Rig { Idp = idp, Site = site, Browser = await HeadlessChromium.StartAsync() };
    }

    private static string ScreenshotPath(string page) => Path.Combine(AppContext.BaseDirectory, "console-screenshots", page + ".png");

    private static async Task<string?> StoredAsync(HeadlessChromium browser, string key)
    {
        var value = await browser.EvaluateAsync($"sessionStorage.getItem({JsonSerializer.Serialize(key)})");
        return value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }

    private static async Task<string> TextAsync(HeadlessChromium browser, string selector) =>
        (await browser.EvaluateAsync($"(document.querySelector({JsonSerializer.Serialize(selector)}) || {{}}).textContent || ''")).GetString()!.Trim();

    private static Task WaitForPageAsync(HeadlessChromium browser, string page) =>
        browser.WaitForAsync($"location.pathname === '/console/' && document.getElementById('main').dataset.page === '{page}' && ['ready', 'error'].includes(document.getElementById('main').dataset.state)");

    /// <summary>Opens the console at <paramref name="route"/> signed out and clicks the provider's button.</summary>
    private static async Task ClickSignInAsync(Rig rig, string route)
    {
        await rig.Browser.NavigateAsync(rig.Site.Url + "/console/" + route);
        await rig.Browser.WaitForAsync("document.getElementById('main').dataset.page === 'signin' && document.getElementById('main').dataset.state === 'ready' && !!document.getElementById('oidc-signin')");
        Assert.Equal("Sign in with Test IdP", await TextAsync(rig.Browser, "#oidc-signin"));
        await rig.Browser.ClickAsync("#oidc-signin");
    }

    /// <summary>Waits until the provider holds the browser (Hold) after issuing the code, and returns that authorization.</summary>
    private static async Task<TestOidcProvider.Authorization> HeldAsync(Rig rig, int before)
    {
        await rig.Browser.WaitForAsync($"location.origin === {JsonSerializer.Serialize(rig.Idp.Issuer)} && !!document.getElementById('held')");
        Assert.Equal(before + 1, rig.Idp.Authorizations.Count);
        return rig.Idp.Authorizations[^1];
    }

    /// <summary>The sign-in page after a failed sign-in: its alert's text, with no token and no sign-in under way left in the tab.</summary>
    private static async Task<string> FailedAsync(Rig rig)
    {
        await WaitForPageAsync(rig.Browser, "signin");
        await rig.Browser.WaitForAsync("document.querySelector('#signin-message.error[role=alert]').textContent.length > 0");
        Assert.Null(await StoredAsync(rig.Browser, TokenKey));
        Assert.Null(await StoredAsync(rig.Browser, PendingKey));
        Assert.Equal("", (await rig.Browser.EvaluateAsync("location.search")).GetString()); // the code is out of the address
        return await TextAsync(rig.Browser, "#signin-message");
    }

    [Fact]
    public async Task Signing_in_through_the_provider_with_pkce_lands_on_the_page_asked_for_showing_the_apis_statement_and_signing_out_forgets_the_token()
    {
        await using var rig = await StartAsync(postgres);
        var browser = rig.Browser;
        const string route = "#/statements?account=acct-c&period=2026-11";
        await ClickSignInAsync(rig, route);
        await WaitForPageAsync(browser, "statements");
        Assert.Equal("ready", (await browser.EvaluateAsync("document.getElementById('main').dataset.state")).GetString());

        // Back on the page the sign-in started from, with the code gone from the address.
        Assert.Equal(route, (await browser.EvaluateAsync("location.hash")).GetString());
        Assert.Equal("", (await browser.EvaluateAsync("location.search")).GetString());

        // The provider saw one authorization request with an S256 challenge for the console's callback, and redeemed
        // its code once, with the verifier that hashes to that challenge (the provider checks it; no refusal).
        var authorization = Assert.Single(rig.Idp.Authorizations);
        Assert.Equal(43, authorization.Challenge.Length);
        Assert.Equal(rig.Site.Url + OidcSettings.CallbackPath, authorization.RedirectUri);
        Assert.Contains("openid", authorization.Scope.Split(' '));
        Assert.True(authorization.Redeemed);
        Assert.Empty(rig.Idp.TokenErrors);

        // The tab keeps the provider's access token (for the API's audience) and nothing of the sign-in itself; the
        // refresh token the provider offered never reached the page.
        var token = await StoredAsync(browser, TokenKey);
        Assert.NotNull(token);
        var jwt = new JsonWebToken(token);
        Assert.Equal((rig.Idp.Issuer, ApiTestHost.Audience, "RS256"), (jwt.Issuer, jwt.Audiences.Single(), jwt.Alg));
        Assert.Null(await StoredAsync(browser, PendingKey));
        Assert.DoesNotContain("never-handed-to-the-page", (await browser.EvaluateAsync("JSON.stringify(sessionStorage)")).GetString(), StringComparison.Ordinal);
        Assert.StartsWith("ada@example.test", await TextAsync(browser, "[data-testid=who]"), StringComparison.Ordinal);

        // The page shows the API's numbers for that token.
        using var api = rig.Site.Client(token);
        using var response = await api.GetAsync("/v1/accounts/acct-c/statements/2026-11");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var statement = await ApiTestHost.Json(response);
        var totals = statement.GetProperty("totals").EnumerateArray().Single();
        var shown = (await browser.EvaluateAsync("[...document.querySelectorAll('#totals tbody tr')[0].cells].map(c => c.textContent.trim())")).EnumerateArray().Select(c => c.GetString()!.Replace(",", "", StringComparison.Ordinal)).ToList();
        Assert.Equal(new[] { "usage", "fees", "commitments", "adjustments", "total" }.Select(k => totals.GetProperty(k).GetString()), shown.Skip(1));
        Assert.Equal(statement.GetProperty("status").GetString(), await TextAsync(browser, "#status"));
        Assert.Empty(browser.PageErrors);
        await browser.ScreenshotAsync(ScreenshotPath("oidc-statements"));

        await browser.ClickAsync("#who button");
        await WaitForPageAsync(browser, "signin");
        Assert.Equal(0, (await browser.EvaluateAsync("Object.keys(sessionStorage).filter(k => k.startsWith('metering.console.')).length")).GetInt32());
        Assert.True((await browser.EvaluateAsync("document.getElementById('nav').hidden")).GetBoolean());
    }

    [Fact]
    public async Task A_wrong_verifier_a_replayed_code_a_forged_state_and_a_declined_sign_in_each_end_on_a_visible_alert_with_no_token_kept()
    {
        await using var rig = await StartAsync(postgres);
        var browser = rig.Browser;

        // A wrong verifier: the tab's verifier is changed between the authorization and the callback.
        rig.Idp.Hold = true;
        await ClickSignInAsync(rig, "#/usage");
        var first = await HeldAsync(rig, 0);
        await browser.NavigateAsync(rig.Site.Url + "/console/#/signin");
        await WaitForPageAsync(browser, "signin");
        await browser.EvaluateAsync($"(() => {{ const p = JSON.parse(sessionStorage.getItem('{PendingKey}')); p.verifier = 'A'.repeat(43); sessionStorage.setItem('{PendingKey}', JSON.stringify(p)); }})()");
        await browser.NavigateAsync($"{rig.Site.Url}{OidcSettings.CallbackPath}?code={Uri.EscapeDataString(first.Code)}&state={Uri.EscapeDataString(first.State)}");
        Assert.Contains("invalid_grant: the code_verifier does not match the code_challenge", await FailedAsync(rig), StringComparison.Ordinal);
        Assert.Single(rig.Idp.TokenErrors);

        // A replayed code: one that signed in once, brought back to a later sign-in of the same tab (its state matches).
        rig.Idp.Hold = false;
        await ClickSignInAsync(rig, "#/usage");
        await WaitForPageAsync(browser, "usage");
        Assert.NotNull(await StoredAsync(browser, TokenKey));
        var used = rig.Idp.Authorizations[^1];
        Assert.True(used.Redeemed);
        rig.Idp.Hold = true;
        await browser.EvaluateAsync("location.hash = '#/signin'");
        await browser.WaitForAsync("!!document.getElementById('oidc-signin')");
        await browser.ClickAsync("#oidc-signin");
        var later = await HeldAsync(rig, 2);
        await browser.NavigateAsync($"{rig.Site.Url}{OidcSettings.CallbackPath}?code={Uri.EscapeDataString(used.Code)}&state={Uri.EscapeDataString(later.State)}");
        Assert.Contains("invalid_grant: the code was already used", await FailedAsync(rig), StringComparison.Ordinal);

        // A forged state: refused by the page itself, before any code is redeemed.
        await ClickSignInAsync(rig, "#/usage");
        var forged = await HeldAsync(rig, 3);
        var redemptions = rig.Idp.TokenRequests;
        await browser.NavigateAsync($"{rig.Site.Url}{OidcSettings.CallbackPath}?code={Uri.EscapeDataString(forged.Code)}&state=forged-by-someone-else");
        Assert.Contains("state mismatch", await FailedAsync(rig), StringComparison.Ordinal);
        Assert.Equal(redemptions, rig.Idp.TokenRequests);
        Assert.False(forged.Redeemed);

        // The user declines at the provider: error=access_denied comes back.
        (rig.Idp.Hold, rig.Idp.Deny) = (false, true);
        await ClickSignInAsync(rig, "#/usage");
        Assert.Contains("access_denied (the user declined)", await FailedAsync(rig), StringComparison.Ordinal);
        await browser.ScreenshotAsync(ScreenshotPath("oidc-declined"));

        // The sign-in page is usable after every failure: paste-a-token still works.
        await browser.TypeAsync("#token", ApiTestHost.Token("usage:read"));
        await browser.ClickAsync("#signin");
        await WaitForPageAsync(browser, "usage");
        Assert.Empty(browser.PageErrors);
    }

    [Fact]
    public async Task An_account_bound_provider_token_sees_only_its_account_and_once_the_api_refuses_the_token_the_console_shows_itself_signed_out()
    {
        await using var rig = await StartAsync(postgres);
        var browser = rig.Browser;
        rig.Idp.Account = "acct-c";
        await ClickSignInAsync(rig, "#/statements?account=acct-d&period=2026-11");
        await WaitForPageAsync(browser, "statements");
        Assert.Contains("account acct-c", await TextAsync(browser, "[data-testid=who]"), StringComparison.Ordinal);
        Assert.Equal("acct-c", (await browser.EvaluateAsync("document.getElementById('f-account').value")).GetString());
        Assert.True((await browser.EvaluateAsync("document.getElementById('f-account').readOnly")).GetBoolean());
        Assert.StartsWith("acct-c, ", await TextAsync(browser, "#st-h"), StringComparison.Ordinal);
        Assert.DoesNotContain("acct-d", await TextAsync(browser, "#main"), StringComparison.Ordinal);

        // The page mirrors the API's rule: the provider's token itself is refused for acct-d.
        var token = await StoredAsync(browser, TokenKey);
        Assert.Equal("acct-c", new JsonWebToken(token).GetClaim("account").Value);
        using var api = rig.Site.Client(token);
        using var own = await api.GetAsync("/v1/accounts/acct-c/statements/2026-11");
        using var foreign = await api.GetAsync("/v1/accounts/acct-d/statements/2026-11");
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.Forbidden), (own.StatusCode, foreign.StatusCode));
        Assert.Empty(browser.PageErrors);

        // The token expires (here: one the provider signed that expired five minutes ago, past the API's 30 s skew): the next API
        // call answers 401 and the console shows the sign-in page saying why, with the token forgotten.
        var expired = rig.Idp.AccessToken(DateTime.UtcNow.AddMinutes(-5));
        await browser.EvaluateAsync($"sessionStorage.setItem('{TokenKey}', {JsonSerializer.Serialize(expired)}); location.hash = '#/usage?account=acct-c'");
        await WaitForPageAsync(browser, "signin");
        await browser.WaitForAsync("document.querySelector('#signin-message.error[role=alert]').textContent.includes('signed out')");
        Assert.Contains("the token expired at", await TextAsync(browser, "#signin-message"), StringComparison.Ordinal);
        Assert.Null(await StoredAsync(browser, TokenKey));
        Assert.True((await browser.EvaluateAsync("document.getElementById('nav').hidden")).GetBoolean());
    }
}
