using System.Net;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Api;

[Collection(PostgresCollection.Name)]
public sealed class PeriodApiTests(PostgresFixture postgres)
{
    private static readonly DateTimeOffset Oct = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Nov = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Dec = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static async Task Total(NpgsqlDataSource db, string account, string sku, DateTimeOffset start, DateTimeOffset end, decimal quantity, decimal amount, string currency = "USD")
    {
        await using var cmd = db.CreateCommand("""
            INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash)
            VALUES ($1, $2, $3, $4, $5, 3, $6, $7, 'edge-list', '2026-11', 'sha256:abc')
            """);
        foreach (var v in new object[] { account, sku, start, end, quantity, amount, currency })
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = v });
        }

        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task Adjustment(NpgsqlDataSource db, string account, DateTimeOffset bookedIn, DateTimeOffset original, decimal amount)
    {
        await using var cmd = db.CreateCommand("""
            INSERT INTO adjustments (account, sku, period_start, original_period_start, quantity, record_count, amount, currency, price_book_hash, reference)
            VALUES ($1, 'cdn.requests', $2, $3, 1000, 1, $4, 'USD', 'sha256:abc', 'late windows 2026-10-31T23:59')
            """);
        foreach (var v in new object[] { account, bookedIn, original, amount })
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = v });
        }

        await cmd.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Open_period_has_the_ledgers_lines_adjustments_and_subtotals_and_no_invoice_preview()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        await Total(host.Db, "acct-1", "cdn.requests", Nov, Dec, 123456789.123456789m, 49.38m);
        await Total(host.Db, "acct-1", "ai.tokens", Nov, Dec, 5m, 0.1m, "EUR");
        await Total(host.Db, "acct-2", "cdn.requests", Nov, Dec, 1m, 1m);
        await Adjustment(host.Db, "acct-1", Nov, Oct, 0.02m);

        using var response = await host.Client(ApiTestHost.Token("billing:read", account: "acct-1")).GetAsync("/v1/accounts/acct-1/periods/2026-11");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ApiTestHost.Json(response);
        Assert.False(body.GetProperty("closed").GetBoolean());
        var lines = body.GetProperty("lines").EnumerateArray().ToList();
        Assert.Equal(["ai.tokens", "cdn.requests"], lines.Select(l => l.GetProperty("sku").GetString()));
        Assert.Equal("123456789.123456789", lines[1].GetProperty("quantity").GetString());
        Assert.Equal("49.38", lines[1].GetProperty("amount").GetString());
        Assert.Equal("0.10", lines[0].GetProperty("amount").GetString());
        Assert.Equal("0.02", body.GetProperty("adjustments")[0].GetProperty("amount").GetString());
        var subtotals = body.GetProperty("subtotals").EnumerateArray().ToDictionary(s => s.GetProperty("currency").GetString()!, s => s.GetProperty("amount").GetString());
        Assert.Equal("49.40", subtotals["USD"]);
        Assert.Equal("0.10", subtotals["EUR"]);
        // What invoicing reads is the statement (GET /v1/accounts/{a}/statements/{p}); the old preview is gone.
        Assert.False(body.TryGetProperty("invoice_preview", out _));

        // YYYY-MM-DD names the same period.
        using var byDate = await host.Client(ApiTestHost.Token("billing:read")).GetAsync("/v1/accounts/acct-1/periods/2026-11-01");
        Assert.Equal(HttpStatusCode.OK, byDate.StatusCode);
    }

    [Fact]
    public async Task Closed_period_is_final_without_a_preview_and_close_goes_through_the_period_closer()
    {
        var list = Metering.Rating.PriceBooks.PriceBookLoader.LoadFile(Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "list.json"));
        await using var host = await ApiTestHost.StartAsync(postgres, prices: new Metering.Rating.PriceBooks.PriceCatalog(list, []));
        await Total(host.Db, "acct-1", "cdn.requests", Oct, Nov, 10m, 4.5m);
        var admin = host.Client(ApiTestHost.Token("admin"));

        using (var notEnded = await admin.PostAsync("/v1/periods/2099-01/close", null))
        {
            Assert.Equal(HttpStatusCode.Conflict, notEnded.StatusCode);
        }

        using (var notStart = await admin.PostAsync("/v1/periods/2026-10-15/close", null))
        {
            Assert.Equal(HttpStatusCode.BadRequest, notStart.StatusCode);
        }

        using (var close = await admin.PostAsync("/v1/periods/2026-10/close", null))
        {
            Assert.Equal(HttpStatusCode.OK, close.StatusCode);
            var result = await ApiTestHost.Json(close);
            Assert.False(result.GetProperty("already_closed").GetBoolean());
            Assert.Equal(1, result.GetProperty("totals").GetInt64());
            Assert.Equal("4.50", result.GetProperty("amount_by_currency")[0].GetProperty("amount").GetString());
            Assert.Equal(1, result.GetProperty("statements_written").GetInt32());
        }

        using (var again = await admin.PostAsync("/v1/periods/2026-10/close", null))
        {
            Assert.True((await ApiTestHost.Json(again)).GetProperty("already_closed").GetBoolean());
        }

        using var period = await host.Client(ApiTestHost.Token("billing:read")).GetAsync("/v1/accounts/acct-1/periods/2026-10");
        var body = await ApiTestHost.Json(period);
        Assert.True(body.GetProperty("closed").GetBoolean());
        Assert.False(body.TryGetProperty("invoice_preview", out _));
    }

    [Fact]
    public async Task Close_on_a_server_without_price_books_is_refused_because_it_could_not_write_the_final_statements()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        await Total(host.Db, "acct-1", "cdn.requests", Oct, Nov, 10m, 4.5m);
        using var close = await host.Client(ApiTestHost.Token("admin")).PostAsync("/v1/periods/2026-10/close", null);
        Assert.Equal(HttpStatusCode.Conflict, close.StatusCode);
        Assert.Contains("price book", await close.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await using var cmd = host.Db.CreateCommand("SELECT count(*) FROM closed_periods");
        Assert.Equal(0L, (long)(await cmd.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task The_statement_carries_the_fees_and_commitment_true_up_the_invoice_preview_used_to()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks");
        var list = Metering.Rating.PriceBooks.PriceBookLoader.LoadFile(Path.Combine(dir, "list.json"));
        var catalog = new Metering.Rating.PriceBooks.PriceCatalog(list, [Metering.Rating.PriceBooks.PriceBookLoader.LoadFile(Path.Combine(dir, "contract-acct-1.json"), list)]);
        await using var host = await ApiTestHost.StartAsync(postgres, prices: catalog);
        await Total(host.Db, "acct-1", "cdn.requests", Nov, Dec, 1m, 49.38m);
        await Total(host.Db, "acct-2", "cdn.requests", Nov, Dec, 1m, 1.00m);
        var client = host.Client(ApiTestHost.Token("billing:read"));

        // acct-2 pays list: 1 request rates to 0.00 (the running amounts above are the ledger's, not the statement's),
        // the platform fee 20.00 (whole period) and the list's 25.00 commitment less 0.00 of usage: 45.00.
        var listed = await ApiTestHost.Json(await client.GetAsync("/v1/accounts/acct-2/statements/2026-11"));
        Assert.Equal("20.00", listed.GetProperty("fees")[0].GetProperty("amount").GetString());
        Assert.Equal("25.00", listed.GetProperty("commitments")[0].GetProperty("true_up").GetString());
        Assert.Equal("45.00", listed.GetProperty("totals")[0].GetProperty("total").GetString());

        // acct-1's contract replaces the commitment (5000.00) and keeps the list's fee: 20.00 + 5000.00.
        var contracted = await ApiTestHost.Json(await client.GetAsync("/v1/accounts/acct-1/statements/2026-11"));
        Assert.Equal("5000.00", contracted.GetProperty("commitments")[0].GetProperty("true_up").GetString());
        Assert.Equal("5020.00", contracted.GetProperty("totals")[0].GetProperty("total").GetString());
    }

    [Theory]
    [InlineData("2026-13")]
    [InlineData("2026-11-31")]
    [InlineData("november")]
    [InlineData("2026-11-01T00:00:00Z")]
    public async Task Bad_period_is_400(string period)
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var response = await host.Client(ApiTestHost.Token("billing:read")).GetAsync($"/v1/accounts/acct-1/periods/{Uri.EscapeDataString(period)}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await ApiTestHost.Json(response)).GetProperty("errors").TryGetProperty("period", out _));
    }

    [Fact]
    public async Task Unknown_account_or_period_is_404_problem()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var response = await host.Client(ApiTestHost.Token("billing:read")).GetAsync("/v1/accounts/nobody/periods/2026-11");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
