using System.Net;
using System.Text.Json;
using Metering.Tests.Storage;

namespace Metering.Tests.Api;

[Collection(PostgresCollection.Name)]
public sealed class UsageApiTests(PostgresFixture postgres)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private static Dictionary<string, string> Dims(string region, string tier) => new() { ["region"] = region, ["tier"] = tier };

    private static async Task<ApiTestHost> Seeded(PostgresFixture postgres)
    {
        var host = await ApiTestHost.StartAsync(postgres);
        host.Store.Add(new UsageRow(T0.AddMinutes(1), "acct-1", "cdn.requests", Dims("eu", "a"), 10.5m, 2, 0.10m, "USD"));
        host.Store.Add(new UsageRow(T0.AddMinutes(30), "acct-1", "cdn.requests", Dims("us", "a"), 4m, 1, 0.0000004m, "USD"));
        host.Store.Add(new UsageRow(T0.AddMinutes(59), "acct-1", "cdn.requests", Dims("eu", "b"), 0.25m, 1, 0.02m, "USD"));
        host.Store.Add(new UsageRow(T0.AddHours(1), "acct-1", "ai.tokens", Dims("eu", "a"), 1_000_000_000_000_000m, 5, 123456789.12m, "USD"));
        host.Store.Add(new UsageRow(T0.AddHours(2), "acct-2", "cdn.requests", Dims("eu", "a"), 7m, 1, 1m, "USD"));
        return host;
    }

    [Fact]
    public async Task Hourly_usage_is_bucketed_and_money_and_quantities_are_exact_strings()
    {
        await using var host = await Seeded(postgres);
        using var response = await host.Client(ApiTestHost.Token("usage:read")).GetAsync("/v1/usage?account=acct-1&from=2026-11-01T00:00:00Z&to=2026-11-01T03:00:00Z&granularity=hour");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ApiTestHost.Json(response);
        var points = body.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(2, points.Count);
        Assert.Equal("2026-11-01T00:00:00+00:00", points[0].GetProperty("bucket_start").GetString());
        Assert.Equal("cdn.requests", points[0].GetProperty("sku").GetString());
        Assert.Equal(JsonValueKind.String, points[0].GetProperty("quantity").ValueKind);
        Assert.Equal("14.75", points[0].GetProperty("quantity").GetString());
        Assert.Equal("0.1200004", points[0].GetProperty("amount").GetString());
        Assert.Equal(4, points[0].GetProperty("record_count").GetInt64());
        Assert.Equal("1000000000000000", points[1].GetProperty("quantity").GetString());
        Assert.Equal("123456789.12", points[1].GetProperty("amount").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("next_cursor").ValueKind);
        Assert.Equal("hour", body.GetProperty("granularity").GetString());
    }

    [Fact]
    public async Task Group_by_and_sku_filter_shape_the_answer()
    {
        await using var host = await Seeded(postgres);
        using var response = await host.Client(ApiTestHost.Token("usage:read")).GetAsync("/v1/usage?account=acct-1&sku=cdn.requests&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&granularity=day&group_by=region");
        var points = (await ApiTestHost.Json(response)).GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(2, points.Count);
        Assert.Equal("eu", points[0].GetProperty("dimensions").GetProperty("region").GetString());
        Assert.Equal("10.75", points[0].GetProperty("quantity").GetString());
        Assert.Equal("us", points[1].GetProperty("dimensions").GetProperty("region").GetString());
        Assert.False(points[1].GetProperty("dimensions").TryGetProperty("tier", out _));
    }

    [Fact]
    public async Task Pages_follow_the_cursor_and_cover_every_point_once()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        for (var i = 0; i < 25; i++)
        {
            host.Store.Add(new UsageRow(T0.AddMinutes(i), "acct-1", "cdn.requests", Dims("eu", "a"), i + 1, 1, 0, "USD"));
        }

        var client = host.Client(ApiTestHost.Token("usage:read"));
        var baseUrl = "/v1/usage?account=acct-1&from=2026-11-01T00:00:00Z&to=2026-11-01T01:00:00Z&granularity=minute&limit=10";
        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            using var response = await client.GetAsync(baseUrl + (cursor is null ? "" : "&cursor=" + cursor));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await ApiTestHost.Json(response);
            seen.AddRange(body.GetProperty("points").EnumerateArray().Select(p => p.GetProperty("quantity").GetString()!));
            cursor = body.GetProperty("next_cursor").GetString();
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(1, 25).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), seen);

        // A cursor is bound to its query: replayed with another range it is refused, not silently applied.
        using var first = await client.GetAsync(baseUrl);
        var next = (await ApiTestHost.Json(first)).GetProperty("next_cursor").GetString();
        using var replay = await client.GetAsync(baseUrl.Replace("01:00:00Z", "02:00:00Z", StringComparison.Ordinal) + "&cursor=" + next);
        Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        Assert.True((await ApiTestHost.Json(replay)).GetProperty("errors").TryGetProperty("cursor", out _));
    }

    [Theory]
    [InlineData("from=2026-11-01&to=2026-11-02T00:00:00Z", "from")]
    [InlineData("from=2026-11-01T00:00:00&to=2026-11-02T00:00:00Z", "from")]
    [InlineData("from=2026-13-01T00:00:00Z&to=2026-11-02T00:00:00Z", "from")]
    [InlineData("from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "to")]
    [InlineData("from=2026-11-01T00:00:00Z&to=2026-11-01T00:00:00Z", "to")]
    [InlineData("from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&granularity=week", "granularity")]
    [InlineData("from=2026-11-01T00:00:00Z&to=2026-11-09T00:00:00Z&granularity=minute", "to")]
    [InlineData("from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z&granularity=hour", "to")]
    [InlineData("from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&granularity=day", "to")]
    [InlineData("from=2026-11-01T00:30:00Z&to=2026-11-02T00:00:00Z&granularity=hour", "from")]
    [InlineData("from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&limit=0", "limit")]
    [InlineData("from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&limit=10001", "limit")]
    [InlineData("from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&group_by=region,region", "group_by")]
    [InlineData("from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&group_by=a%20b", "group_by")]
    [InlineData("from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&group_by=a,b,c,d,e,f,g,h,i", "group_by")]
    [InlineData("from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&cursor=garbage!", "cursor")]
    [InlineData("from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&sku=", "sku")]
    public async Task Invalid_parameters_are_400_problems_naming_the_parameter(string query, string parameter)
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var response = await host.Client(ApiTestHost.Token("usage:read")).GetAsync("/v1/usage?account=acct-1&" + query);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ApiTestHost.Json(response);
        Assert.True(problem.GetProperty("errors").TryGetProperty(parameter, out var reasons), problem.ToString());
        Assert.False(string.IsNullOrWhiteSpace(reasons[0].GetString()));
        Assert.Equal(0, host.Store.Queries);
    }

    [Theory]
    [InlineData("")]
    [InlineData("account=")]
    [InlineData("account=%01x")]
    public async Task Missing_or_bad_account_is_400(string account)
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var response = await host.Client(ApiTestHost.Token("usage:read")).GetAsync($"/v1/usage?{account}&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await ApiTestHost.Json(response)).GetProperty("errors").TryGetProperty("account", out _));
    }

    [Fact]
    public async Task Longest_allowed_ranges_are_accepted()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var client = host.Client(ApiTestHost.Token("usage:read"));
        foreach (var q in new[] { "from=2026-11-01T00:00:00Z&to=2026-11-08T00:00:00Z&granularity=minute", "from=2026-08-01T00:00:00Z&to=2026-11-02T00:00:00Z&granularity=hour", "from=2023-11-01T00:00:00Z&to=2026-11-01T00:00:00Z&granularity=day", "from=2026-11-01T01:00:00%2B01:00&to=2026-11-01T02:00:00Z" })
        {
            using var response = await client.GetAsync("/v1/usage?account=acct-1&" + q);
            Assert.True(response.StatusCode == HttpStatusCode.OK, q + ": " + await response.Content.ReadAsStringAsync());
        }
    }
}
