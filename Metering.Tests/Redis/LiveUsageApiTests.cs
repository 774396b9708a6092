using System.Net;
using System.Text.Json;
using Metering.Redis;
using Metering.Tests.Api;
using Metering.Tests.Storage;

namespace Metering.Tests.Redis;

/// <summary><c>GET /v1/accounts/{account}/usage/live</c> against a real Redis, and its PostgreSQL fallback.</summary>
[Collection(PostgresCollection.Name)]
public sealed class LiveUsageApiTests(PostgresFixture postgres, RedisFixture redis) : IClassFixture<RedisFixture>
{
    private static readonly DateTimeOffset November = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Live_usage_is_read_from_the_redis_counters_exactly_and_only_for_the_tokens_account()
    {
        using var connection = redis.Connect();
        RedisLiveCounters? counters = null;
        await using var host = await ApiTestHost.StartAsync(postgres, liveCounters: db => counters = new RedisLiveCounters(connection, "test:live-api:", db));
        Assert.True(await counters!.TryWriteAsync([("acct-live", "api.calls", November, November.AddMonths(1), 12_345L, 1234.567890123m, 0.61m, "USD")]));

        using var client = host.Client(ApiTestHost.Token("usage:read", account: "acct-live"));
        using var response = await client.GetAsync("/v1/accounts/acct-live/usage/live?period=2026-11");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("redis", body.RootElement.GetProperty("source").GetString());
        var line = Assert.Single(body.RootElement.GetProperty("lines").EnumerateArray());
        Assert.Equal("api.calls", line.GetProperty("sku").GetString());
        Assert.Equal(12_345, line.GetProperty("record_count").GetInt64());
        Assert.Equal("1234.567890123", line.GetProperty("quantity").GetString());
        Assert.Equal("0.61", line.GetProperty("amount").GetString());

        using var foreign = await client.GetAsync("/v1/accounts/acct-other/usage/live");
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        using var anonymous = await host.Client().GetAsync("/v1/accounts/acct-live/usage/live");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task Without_redis_live_usage_is_answered_from_the_postgres_totals()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        await using (var cmd = host.Db.CreateCommand("""
            INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash)
            VALUES ('acct-pg', 'api.calls', '2026-11-01Z', '2026-12-01Z', 7.5, 3, 0.02, 'USD', 'b', 'v', 'h')
            """))
        {
            await cmd.ExecuteNonQueryAsync();
        }

        using var response = await host.Client(ApiTestHost.Token("usage:read")).GetAsync("/v1/accounts/acct-pg/usage/live?period=2026-11");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("postgres", body.RootElement.GetProperty("source").GetString());
        var line = Assert.Single(body.RootElement.GetProperty("lines").EnumerateArray());
        Assert.Equal("7.5", line.GetProperty("quantity").GetString());
        Assert.Equal(3, line.GetProperty("record_count").GetInt64());
    }
}
