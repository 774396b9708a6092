using System.Net;
using Metering.Web.Api;
using Metering.Tests.Storage;
using Microsoft.AspNetCore.TestHost;
using Npgsql;

namespace Metering.Tests.Api;

[Collection(PostgresCollection.Name)]
public sealed class HealthApiTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Ready_when_every_dependency_answers_and_kafka_not_configured_is_not_a_failure()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var response = await host.Client().GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var checks = (await ApiTestHost.Json(response)).GetProperty("checks");
        Assert.Equal("ok", checks.GetProperty("postgres").GetString());
        Assert.Equal("ok", checks.GetProperty("usage_store").GetString());
        Assert.Equal("not_configured", checks.GetProperty("kafka").GetString());
    }

    [Fact]
    public async Task Not_ready_is_503_problem_naming_the_failed_dependencies()
    {
        await using var host = await ApiTestHost.StartAsync(postgres, kafka: _ => Task.FromResult(false));
        host.Store.Healthy = false;
        using var response = await host.Client().GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ApiTestHost.Json(response);
        Assert.Equal(["kafka", "usage_store"], problem.GetProperty("failed").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal("ok", problem.GetProperty("checks").GetProperty("postgres").GetString());

        using var live = await host.Client().GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task A_hanging_dependency_times_out_instead_of_hanging_readiness()
    {
        await using var host = await ApiTestHost.StartAsync(postgres, kafka: ct => Task.Delay(Timeout.Infinite, ct).ContinueWith(_ => true, TaskScheduler.Default));
        using var response = await host.Client().GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("timeout", (await ApiTestHost.Json(response)).GetProperty("checks").GetProperty("kafka").GetString());
    }

    [Fact]
    public async Task Unreachable_postgres_makes_readiness_fail_but_liveness_stays_ok()
    {
        await using var db = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=x;Database=x;Timeout=1");
        var options = new ApiOptions { JwtIssuer = ApiTestHost.Issuer, JwtAudience = ApiTestHost.Audience, JwtSigningKey = ApiTestHost.Key };
        await using var app = ApiHost.Build(options, db, new InMemoryUsageStore(), b => b.WebHost.UseTestServer());
        await app.StartAsync();
        using var client = app.GetTestClient();
        using var ready = await client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal(["postgres"], (await ApiTestHost.Json(ready)).GetProperty("failed").EnumerateArray().Select(f => f.GetString()));
        using var live = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }
}
