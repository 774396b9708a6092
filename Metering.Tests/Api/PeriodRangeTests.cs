using System.Net;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Api;

/// <summary>Period parameters whose billing period would end past 9999-12-31 are 400s naming the range, never 500s.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PeriodRangeTests(PostgresFixture postgres)
{
    private static readonly DateTimeOffset LastMonth = new(9999, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static async Task<string> AssertRangeProblem(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ApiTestHost.Json(response);
        var reason = problem.GetProperty("errors").GetProperty("period")[0].GetString()!;
        Assert.Contains("9999-12-31", reason, StringComparison.Ordinal);
        Assert.Contains("0001-01-01", reason, StringComparison.Ordinal);
        return reason;
    }

    [Fact]
    public async Task Closing_the_period_of_year_9999_december_is_a_400_naming_the_supported_range()
    {
        var list = Metering.Rating.PriceBooks.PriceBookLoader.LoadFile(Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "list.json"));
        await using var host = await ApiTestHost.StartAsync(postgres, prices: new Metering.Rating.PriceBooks.PriceCatalog(list, []));
        var admin = host.Client(ApiTestHost.Token("admin"));
        foreach (var period in new[] { "9999-12", "9999-12-01", "9999-12-31" })
        {
            using var close = await admin.PostAsync($"/v1/periods/{period}/close?force=true", null);
            var reason = await AssertRangeProblem(close);
            Assert.Contains(period, reason, StringComparison.Ordinal);
        }

        // Nothing was closed.
        await using var cmd = host.Db.CreateCommand("SELECT count(*) FROM closed_periods");
        Assert.Equal(0L, (long)(await cmd.ExecuteScalarAsync())!);

        // The month before still closes: the range check is not an off-by-one.
        using var november = await admin.PostAsync("/v1/periods/9999-11/close?force=true", null);
        Assert.Equal(HttpStatusCode.OK, november.StatusCode);
        Assert.Equal("9999-12-01T00:00:00+00:00", (await ApiTestHost.Json(november)).GetProperty("period_end").GetString());
    }

    [Fact]
    public async Task Reading_a_period_of_year_9999_december_with_price_books_is_a_400_not_a_500()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks");
        var list = Metering.Rating.PriceBooks.PriceBookLoader.LoadFile(Path.Combine(dir, "list.json"));
        await using var host = await ApiTestHost.StartAsync(postgres, prices: new Metering.Rating.PriceBooks.PriceCatalog(list, []));
        await using (var cmd = host.Db.CreateCommand("""
            INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash)
            VALUES ('acct-1', 'cdn.requests', $1, $2, 1, 1, 1, 'USD', 'edge-list', '2026-11', 'sha256:abc')
            """))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = LastMonth });
            cmd.Parameters.Add(new NpgsqlParameter { Value = new DateTimeOffset(9999, 12, 31, 23, 59, 59, TimeSpan.Zero) });
            await cmd.ExecuteNonQueryAsync();
        }

        var client = host.Client(ApiTestHost.Token("billing:read usage:read"));
        using (var period = await client.GetAsync("/v1/accounts/acct-1/periods/9999-12"))
        {
            await AssertRangeProblem(period);
        }

        using (var live = await client.GetAsync("/v1/accounts/acct-1/usage/live?period=9999-12"))
        {
            await AssertRangeProblem(live);
        }
    }
}
