using System.Net;
using Metering.Tests.Storage;

namespace Metering.Tests.Api;

[Collection(PostgresCollection.Name)]
public sealed class ApiAuthTests(PostgresFixture postgres)
{
    private const string Usage = "/v1/usage?account=acct-1&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&granularity=hour";

    [Fact]
    public async Task No_token_is_401_problem_with_a_bearer_challenge()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var response = await host.Client().GetAsync(Usage);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("Bearer", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        var problem = await ApiTestHost.Json(response);
        Assert.Equal(401, problem.GetProperty("status").GetInt32());
        Assert.Contains("bearer token is required", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_signature_expired_wrong_issuer_or_audience_are_401_with_the_reason()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var cases = new (string Token, string Reason)[]
        {
            (ApiTestHost.Token("usage:read", key: new byte[32]), "signature"),
            (ApiTestHost.Token("usage:read", expires: DateTime.UtcNow.AddMinutes(-5)), "expired"),
            (ApiTestHost.Token("usage:read", issuer: "https://evil.test"), "issuer"),
            (ApiTestHost.Token("usage:read", audience: "someone-else"), "audience"),
            ("not.a.jwt", "not valid"),
        };
        foreach (var (token, reason) in cases)
        {
            using var response = await host.Client(token).GetAsync(Usage);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var problem = await ApiTestHost.Json(response);
            Assert.Contains(reason, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Missing_scope_is_403_naming_the_scope()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var response = await host.Client(ApiTestHost.Token("billing:read")).GetAsync(Usage);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ApiTestHost.Json(response);
        Assert.Contains("usage:read", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        using var close = await host.Client(ApiTestHost.Token("usage:read billing:read pricebooks:write")).PostAsync("/v1/periods/2026-10/close", null);
        Assert.Equal(HttpStatusCode.Forbidden, close.StatusCode);
    }

    [Fact]
    public async Task Account_bound_token_reads_its_account_and_gets_403_for_another()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var client = host.Client(ApiTestHost.Token("usage:read billing:read", account: "acct-1"));
        using (var own = await client.GetAsync(Usage))
        {
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        }

        using (var other = await client.GetAsync(Usage.Replace("acct-1", "acct-2", StringComparison.Ordinal)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
            Assert.Contains("acct-2", (await ApiTestHost.Json(other)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        using var period = await client.GetAsync("/v1/accounts/acct-2/periods/2026-11");
        Assert.Equal(HttpStatusCode.Forbidden, period.StatusCode);
    }

    [Fact]
    public async Task Scopes_may_come_as_a_json_array_claim()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var token = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
        {
            Issuer = ApiTestHost.Issuer,
            Audience = ApiTestHost.Audience,
            Expires = DateTime.UtcNow.AddMinutes(5),
            Claims = new Dictionary<string, object> { ["scp"] = new[] { "billing:read", "usage:read" } },
            SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(ApiTestHost.Key), Microsoft.IdentityModel.Tokens.SecurityAlgorithms.HmacSha256),
        });
        using var response = await host.Client(token).GetAsync(Usage);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Admin_implies_every_scope()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var response = await host.Client(ApiTestHost.Token("admin")).GetAsync(Usage);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Only_health_readiness_and_metrics_are_anonymous()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var anonymous = host.Client();
        foreach (var path in new[] { "/healthz", "/readyz", "/metrics" })
        {
            using var r = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        foreach (var path in new[] { "/v1/pricebooks", "/v1/pricebooks/edge-list/versions/2026-11", "/v1/accounts/acct-1/periods/2026-11", "/openapi/v1.json", "/no/such/path" })
        {
            using var r = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        }
    }

    [Fact]
    public async Task Account_bound_admin_may_not_change_state_shared_by_every_account()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var client = host.Client(ApiTestHost.Token("admin", account: "acct-1"));
        using var close = await client.PostAsync("/v1/periods/2026-10/close", null);
        Assert.Equal(HttpStatusCode.Forbidden, close.StatusCode);
        Assert.Contains("every account", (await ApiTestHost.Json(close)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        var list = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "list.json"));
        var one = System.Text.Json.Nodes.JsonNode.Parse(list)!.AsObject();
        one["versions"] = new System.Text.Json.Nodes.JsonArray(one["versions"]![0]!.DeepClone());
        using var put = await client.PutAsync("/v1/pricebooks/edge-list/versions/2026-10", new StringContent(one.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
    }

    [Fact]
    public async Task Unknown_route_and_wrong_method_are_problems_too()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var client = host.Client(ApiTestHost.Token("admin"));
        using var missing = await client.GetAsync("/v1/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        using var method = await client.DeleteAsync("/v1/usage");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, method.StatusCode);
        Assert.Equal("application/problem+json", method.Content.Headers.ContentType?.MediaType);
    }
}
