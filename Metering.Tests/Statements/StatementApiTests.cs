using System.Net;
using System.Text.Json;
using Metering.Ledger.Accounts;
using Metering.Rating.Accounts;
using Metering.Rating.Money;
using Metering.Rating.PriceBooks;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Statements;

/// <summary>
/// <c>GET /v1/accounts/{a}/statements/{p}</c> against a real ledger and the example list book (edge-list 2026-11:
/// cdn.requests 0.0000004 USD per request, fee "platform" 20.00 prorated, minimum commitment 25.00). Amounts are
/// computed by hand in the comments.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class StatementApiTests(PostgresFixture postgres)
{
    private static readonly DateTimeOffset Nov = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Dec = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static PriceCatalog ListBook() =>
        new(PriceBookLoader.LoadFile(Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "list.json")), []);

    private static async Task Execute(NpgsqlDataSource db, string sql, params object[] values)
    {
        await using var cmd = db.CreateCommand(sql);
        foreach (var v in values)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = v });
        }

        await cmd.ExecuteNonQueryAsync();
    }

    // The amount stored here is deliberately not the list price: the statement rates the period total from scratch.
    private static Task Total(NpgsqlDataSource db, string account, decimal requests) => Execute(db, """
        INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash)
        VALUES ($1, 'cdn.requests', $2, $3, $4, 7, 999, 'USD', 'edge-list', '2026-11', 'sha256:abc')
        """, account, Nov, Dec, requests);

    private static async Task<JsonElement> Statement(ApiTestHost host, string account)
    {
        using var response = await host.Client(ApiTestHost.Token("billing:read")).GetAsync($"/v1/accounts/{account}/statements/2026-11");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await ApiTestHost.Json(response);
    }

    private static string Total(JsonElement statement) => statement.GetProperty("totals").EnumerateArray().Single().GetProperty("total").GetString()!;

    [Fact]
    public async Task An_account_in_its_own_time_zone_is_addressed_by_its_local_month_and_a_day_no_period_starts_on_is_refused()
    {
        await using var host = await ApiTestHost.StartAsync(postgres, prices: ListBook());
        var localNovember = new DateTimeOffset(2026, 10, 31, 23, 0, 0, TimeSpan.Zero); // Nov 1 00:00 in Europe/Berlin (CET)
        var localDecember = new DateTimeOffset(2026, 11, 30, 23, 0, 0, TimeSpan.Zero);
        await AccountStore.SetAsync(host.Db, new AccountTerms("acct-berlin", Currency.Get("USD"), "edge-list", null, localNovember, null, null, "Europe/Berlin"), "test", null, CancellationToken.None);
        await Execute(host.Db, """
            INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash)
            VALUES ('acct-berlin', 'cdn.requests', $1, $2, 10000000, 7, 0, 'USD', 'edge-list', '2026-11', 'sha256:abc')
            """, localNovember, localDecember);

        foreach (var period in new[] { "2026-11", "2026-11-01" })
        {
            using var response = await host.Client(ApiTestHost.Token("billing:read")).GetAsync($"/v1/accounts/acct-berlin/statements/{period}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var s = await ApiTestHost.Json(response);
            Assert.Equal(localNovember, s.GetProperty("period_start").GetDateTimeOffset());
            Assert.Equal(localDecember, s.GetProperty("period_end").GetDateTimeOffset());
            // Prices resolve at the period's start, 2026-10-31T23:00Z: version 2026-10, 10,000,000 x 0.0000005 = 5.00.
            var usage = s.GetProperty("usage").EnumerateArray().Single();
            Assert.Equal(("5.00", "2026-10"), (usage.GetProperty("amount").GetString(), usage.GetProperty("price_book_version").GetString()));
            Assert.Empty(s.GetProperty("fees").EnumerateArray()); // version 2026-10 has no recurring fee
        }

        using var refused = await host.Client(ApiTestHost.Token("billing:read")).GetAsync("/v1/accounts/acct-berlin/statements/2026-11-03");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("no billing period of account 'acct-berlin' starts on 2026-11-03", (await ApiTestHost.Json(refused)).GetProperty("errors").GetProperty("period")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_account_under_its_commitment_gets_usage_the_full_fee_and_the_true_up()
    {
        await using var host = await ApiTestHost.StartAsync(postgres, prices: ListBook());
        await Total(host.Db, "acct-s", 10_000_000m);
        var s = await Statement(host, "acct-s");

        Assert.Equal("draft", s.GetProperty("status").GetString());
        Assert.StartsWith("sha256:", s.GetProperty("content_hash").GetString(), StringComparison.Ordinal);
        // 10,000,000 requests x 0.0000004 = 4.00 (rated from the total, not the 999 stored).
        var usage = s.GetProperty("usage").EnumerateArray().Single();
        Assert.Equal("4.00", usage.GetProperty("amount").GetString());
        Assert.Equal("request", usage.GetProperty("billable_unit").GetString());
        Assert.Equal(7, usage.GetProperty("record_count").GetInt64());
        // Without stored terms the subscription starts with the period: the fee is whole.
        var fee = s.GetProperty("fees").EnumerateArray().Single();
        Assert.Equal("20.00", fee.GetProperty("amount").GetString());
        Assert.Equal("1", fee.GetProperty("proration_factor").GetString());
        // 25.00 committed - 4.00 usage = 21.00 true-up; total 4.00 + 20.00 + 21.00 = 45.00.
        var commitment = s.GetProperty("commitments").EnumerateArray().Single();
        Assert.Equal("21.00", commitment.GetProperty("true_up").GetString());
        Assert.Equal("45.00", Total(s));
    }

    [Fact]
    public async Task Late_usage_booked_into_the_period_is_its_closed_periods_difference_billed_on_top_of_the_commitment()
    {
        await using var host = await ApiTestHost.StartAsync(postgres, prices: ListBook());
        await Total(host.Db, "acct-l", 10_000_000m);
        await Execute(host.Db, """
            INSERT INTO adjustments (account, sku, period_start, original_period_start, quantity, record_count, amount, currency, price_book_hash, reference)
            VALUES ('acct-l', 'cdn.requests', $1, $2, 2125000, 1, 0.85, 'USD', 'sha256:abc', 'late windows 2026-10-31T23:59')
            """, Nov, new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero));
        var s = await Statement(host, "acct-l");

        // October (version 2026-10: 0.0000005 per request, no fee, no commitment) rebuilt with the late 2,125,000 requests:
        // 1.0625 -> 1.06, the whole difference. The flush's own running amount (0.85) is not what is billed.
        var adjustment = s.GetProperty("adjustments").EnumerateArray().Single();
        Assert.Equal(("late_usage", "cdn.requests", "2125000", "1.06"), (adjustment.GetProperty("kind").GetString(), adjustment.GetProperty("sku").GetString(),
            adjustment.GetProperty("quantity").GetString(), adjustment.GetProperty("amount").GetString()));
        Assert.StartsWith("2026-10-01", adjustment.GetProperty("reference").GetString(), StringComparison.Ordinal);
        // November's commitment counts its own usage only: 25.00 - 4.00 = 21.00; total 4.00 + 20.00 + 21.00 + 1.06 = 46.06.
        Assert.Equal("21.00", s.GetProperty("commitments")[0].GetProperty("true_up").GetString());
        Assert.Equal("46.06", Total(s));
        Assert.Equal(1, s.GetProperty("inputs").GetProperty("late_usage_ids").GetArrayLength());
    }

    [Fact]
    public async Task An_account_with_terms_and_no_usage_gets_its_prorated_fee_and_commitment_and_one_with_nothing_is_404()
    {
        await using var host = await ApiTestHost.StartAsync(postgres, prices: ListBook());
        var terms = new AccountTerms("acct-new", Currency.Get("USD"), "edge-list", null, new DateTimeOffset(2026, 11, 11, 0, 0, 0, TimeSpan.Zero), null, null, null);
        await AccountStore.SetAsync(host.Db, terms, "test", "subscribed mid-period", CancellationToken.None);
        var s = await Statement(host, "acct-new");

        Assert.Empty(s.GetProperty("usage").EnumerateArray());
        // Active 11-30 November: 20 of 30 days; 20.00 x 20/30 = 13.333... -> 13.33.
        var fee = s.GetProperty("fees").EnumerateArray().Single();
        Assert.Equal("13.33", fee.GetProperty("amount").GetString());
        Assert.Equal(new DateTimeOffset(2026, 11, 11, 0, 0, 0, TimeSpan.Zero), fee.GetProperty("service_start").GetDateTimeOffset());
        // The commitment is not prorated: 25.00 - 0 = 25.00; total 13.33 + 25.00 = 38.33.
        Assert.Equal("25.00", s.GetProperty("commitments")[0].GetProperty("true_up").GetString());
        Assert.Equal("38.33", Total(s));

        using var none = await host.Client(ApiTestHost.Token("billing:read")).GetAsync("/v1/accounts/nobody/statements/2026-11");
        Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
    }

    [Fact]
    public async Task A_token_bound_to_another_account_is_refused_and_a_date_inside_a_period_is_a_400()
    {
        await using var host = await ApiTestHost.StartAsync(postgres, prices: ListBook());
        await Total(host.Db, "acct-a", 1m);
        using var foreign = await host.Client(ApiTestHost.Token("billing:read", account: "acct-b")).GetAsync("/v1/accounts/acct-a/statements/2026-11");
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        using var inside = await host.Client(ApiTestHost.Token("billing:read")).GetAsync("/v1/accounts/acct-a/statements/2026-11-15");
        Assert.Equal(HttpStatusCode.BadRequest, inside.StatusCode);
        Assert.True((await ApiTestHost.Json(inside)).GetProperty("errors").TryGetProperty("period", out _));
    }
}
