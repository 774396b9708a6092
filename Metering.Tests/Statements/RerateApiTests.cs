using System.Net;
using System.Text;
using System.Text.Json;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using static Metering.Tests.Statements.StatementLedger;

namespace Metering.Tests.Statements;

/// <summary>
/// <c>POST /v1/periods/{period}/rerate</c> against a real ledger (November closed as in <see cref="RerateTests"/>,
/// the server billing with <see cref="StatementLedger.Prices"/>, the draft lowering requests to 0.008).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RerateApiTests(PostgresFixture postgres)
{
    private static string Body(string priceBook, string extra = "") =>
        $$"""{ "price_book": {{priceBook}}, "contracts": [ {{ContractJson}} ]{{extra}} }""";

    private static async Task<(HttpStatusCode Status, JsonElement Body)> Post(ApiTestHost host, string period, string body, string scopes = "admin")
    {
        using var response = await host.Client(ApiTestHost.Token(scopes)).PostAsync($"/v1/periods/{period}/rerate", new StringContent(body, Encoding.UTF8, "application/json"));
        return (response.StatusCode, await ApiTestHost.Json(response));
    }

    private static JsonElement Account(JsonElement body, string account) =>
        body.GetProperty("accounts").EnumerateArray().Single(a => a.GetProperty("account").GetString() == account);

    [Fact]
    public async Task A_preview_answers_the_exact_lines_and_totals_per_account()
    {
        await using var host = await ApiTestHost.StartAsync(postgres, prices: Prices);
        await RerateTests.ClosedNovemberAsync(host.Db);
        var (status, body) = await Post(host, "2026-11", Body(RerateTests.DraftJson));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((4, 2, 2), (body.GetProperty("accounts_compared").GetInt32(), body.GetProperty("accounts_changed").GetInt32(), body.GetProperty("accounts_unchanged").GetInt32()));
        Assert.Equal(JsonValueKind.Null, body.GetProperty("applied").ValueKind);

        // acct-o: requests 150.00 -> 120.00 USD, -30.00; the grand total is acct-o's (acct-u nets to 0.00).
        var line = Account(body, "acct-o").GetProperty("lines").EnumerateArray().Single();
        Assert.Equal(("rerate:1", "rerate", "requests", "0", "-30.00", "USD", "usage requests", "150.00", "120.00"),
            (line.GetProperty("line_id").GetString(), line.GetProperty("kind").GetString(), line.GetProperty("sku").GetString(), line.GetProperty("quantity").GetString(),
             line.GetProperty("amount").GetString(), line.GetProperty("currency").GetString(), line.GetProperty("subject").GetString(), line.GetProperty("before").GetString(),
             line.GetProperty("after").GetString()));
        Assert.Equal("0.00", Account(body, "acct-u").GetProperty("totals").EnumerateArray().Single().GetProperty("amount").GetString());
        Assert.Equal("-30.00", body.GetProperty("totals").EnumerateArray().Single().GetProperty("amount").GetString());
    }

    [Fact]
    public async Task Apply_books_once_and_the_same_key_replays()
    {
        await using var host = await ApiTestHost.StartAsync(postgres, prices: Prices);
        await RerateTests.ClosedNovemberAsync(host.Db);
        var body = Body(RerateTests.DraftJson, """, "apply": true, "reason": "requests repriced", "idempotency_key": "api-1" """);
        var (status, first) = await Post(host, "2026-11", body);
        Assert.Equal(HttpStatusCode.OK, status);
        var applied = first.GetProperty("applied");
        Assert.Equal(("api-1", false, 3, "jwt:test-client"), (applied.GetProperty("batch").GetString(), applied.GetProperty("replay").GetBoolean(),
            applied.GetProperty("lines_booked").GetInt32(), applied.GetProperty("actor").GetString()));
        Assert.Equal("2026-12-01", applied.GetProperty("booked_period_start").GetDateTimeOffset().ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));

        var (again, replay) = await Post(host, "2026-11", body);
        Assert.Equal(HttpStatusCode.OK, again);
        Assert.True(replay.GetProperty("applied").GetProperty("replay").GetBoolean());
        await using var count = host.Db.CreateCommand("SELECT count(*) FROM booked_adjustments");
        Assert.Equal(3L, (long)(await count.ExecuteScalarAsync())!);

        // Another key: the period is already re-rated, refused without force.
        var (second, problem) = await Post(host, "2026-11", Body(RerateTests.DraftJson, """, "apply": true, "reason": "again", "idempotency_key": "api-2" """));
        Assert.Equal(HttpStatusCode.Conflict, second);
        Assert.Contains("already re-rated", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_open_period_is_409_a_bad_book_is_400_with_the_field_path_and_apply_needs_a_reason()
    {
        await using var host = await ApiTestHost.StartAsync(postgres, prices: Prices);
        await RerateTests.ClosedNovemberAsync(host.Db);
        Assert.Equal(HttpStatusCode.Conflict, (await Post(host, "2026-12", Body(RerateTests.DraftJson))).Status);

        var bad = RerateTests.DraftJson.Replace("\"0.008\"", "\"cheap\"", StringComparison.Ordinal);
        var (status, problem) = await Post(host, "2026-11", Body(bad));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(problem.GetProperty("errors").EnumerateObject(), e => e.Name.StartsWith("$.price_book.versions[0].prices", StringComparison.Ordinal));

        var (noReason, reasonProblem) = await Post(host, "2026-11", Body(RerateTests.DraftJson, """, "apply": true"""));
        Assert.Equal(HttpStatusCode.BadRequest, noReason);
        Assert.True(reasonProblem.GetProperty("errors").TryGetProperty("reason", out _));
        Assert.Equal(HttpStatusCode.BadRequest, (await Post(host, "2026-11", Body(RerateTests.DraftJson, """, "aply": true"""))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Post(host, "2026-11", Body(RerateTests.DraftJson), "billing:read")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Post(host, "2026-11", Body(RerateTests.DraftJson, """, "account": "acct-nobody" """))).Status);

        await using var count = host.Db.CreateCommand("SELECT (SELECT count(*) FROM booked_adjustments) + (SELECT count(*) FROM rerate_batches)");
        Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);
    }
}
