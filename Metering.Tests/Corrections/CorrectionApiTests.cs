using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Metering.Ledger.Corrections;
using Metering.Rating.Periods;
using Metering.Tests.Api;
using Metering.Tests.Statements;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Corrections;

/// <summary>
/// <c>POST/GET /v1/accounts/{account}/corrections</c> against a real PostgreSQL ledger, on the real clock (calendar
/// months, the API's default). The events voided or amended down are first recorded in the ledger.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class CorrectionApiTests(PostgresFixture postgres)
{
    private static string HourAgo() => DateTimeOffset.UtcNow.AddHours(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>api.calls of acct-1 in the billing period of <paramref name="eventTime"/>, as a flush records it.</summary>
    private static Task RecordAsync(NpgsqlDataSource db, string eventTime, decimal quantity, long count) =>
        StatementLedger.TotalAsync(db, "acct-1", "api.calls", BillingPeriodRule.CalendarMonth.PeriodOf(DateTimeOffset.Parse(eventTime, CultureInfo.InvariantCulture)).Start, quantity, count);

    private static Task<HttpResponseMessage> Post(HttpClient client, string account, object body) =>
        client.PostAsJsonAsync($"/v1/accounts/{Uri.EscapeDataString(account)}/corrections", body);

    private static Task<HttpResponseMessage> PostJson(HttpClient client, string json) =>
        client.PostAsync("/v1/accounts/acct-1/corrections", new StringContent(json, Encoding.UTF8, "application/json"));

    [Fact]
    public async Task A_void_is_201_its_replay_200_and_the_same_key_with_other_values_409()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        var time = HourAgo();
        await RecordAsync(host.Db, time, 12.5m, 1);
        object Void(string reason) => new { kind = "void", idempotency_key = "void-evt-1", event_id = "evt-1", sku = "api.calls", event_time = time, original_quantity = "12.500", reason };

        using var created = await Post(admin, "acct-1", Void("duplicate upload"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await ApiTestHost.Json(created);
        Assert.Equal("created", body.GetProperty("status").GetString());
        var c = body.GetProperty("correction");
        Assert.Equal("void", c.GetProperty("kind").GetString());
        Assert.Equal("12.5", c.GetProperty("original_quantity").GetString());
        Assert.Equal("0", c.GetProperty("new_quantity").GetString());
        Assert.Equal("-12.5", c.GetProperty("quantity_delta").GetString());
        Assert.Equal("jwt:test-client", c.GetProperty("actor").GetString());
        Assert.Equal(JsonValueKind.Null, c.GetProperty("amount").ValueKind);
        var id = c.GetProperty("id").GetInt64();
        Assert.Equal($"/v1/accounts/acct-1/corrections/{id}", created.Headers.Location?.ToString());

        using var replayed = await Post(admin, "acct-1", Void("duplicate upload"));
        Assert.Equal(HttpStatusCode.OK, replayed.StatusCode);
        var again = await ApiTestHost.Json(replayed);
        Assert.Equal("replayed", again.GetProperty("status").GetString());
        Assert.Equal(id, again.GetProperty("correction").GetProperty("id").GetInt64());

        using var conflict = await Post(admin, "acct-1", Void("another reason"));
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.Equal("application/problem+json", conflict.Content.Headers.ContentType?.MediaType);
        var problem = await ApiTestHost.Json(conflict);
        Assert.Equal("urn:metering:problem:idempotency-conflict", problem.GetProperty("type").GetString());
        Assert.Equal(["reason"], problem.GetProperty("fields").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(id, problem.GetProperty("correction_id").GetInt64());
        Assert.Single((await CorrectionStore.ListAsync(host.Db, "acct-1", null, 10, CancellationToken.None)).Corrections);
    }

    public static TheoryData<string, string> BadBodies() => new()
    {
        { "kind", """{"kind":"refund","idempotency_key":"k","amount":"1","currency":"USD","reason":"r"}""" },
        { "idempotency_key", """{"kind":"credit","amount":"1","currency":"USD","reason":"r"}""" },
        { "reason", """{"kind":"credit","idempotency_key":"k","amount":"1","currency":"USD"}""" },
        { "amount", """{"kind":"credit","idempotency_key":"k","amount":"-1","currency":"USD","reason":"r"}""" },
        { "amount", """{"kind":"credit","idempotency_key":"k","amount":"1.5","currency":"JPY","reason":"r"}""" },
        { "currency", """{"kind":"debit","idempotency_key":"k","amount":"1","currency":"usd","reason":"r"}""" },
        { "period", """{"kind":"debit","idempotency_key":"k","amount":"1","currency":"USD","period":"November","reason":"r"}""" },
        { "event_id", """{"kind":"debit","idempotency_key":"k","amount":"1","currency":"USD","event_id":"e","reason":"r"}""" },
        { "original_quantity", """{"kind":"void","idempotency_key":"k","event_id":"e","sku":"s","event_time":"2026-11-20T10:00:00Z","original_quantity":"1.0000000001","reason":"r"}""" },
        { "original_quantity", """{"kind":"void","idempotency_key":"k","event_id":"e","sku":"s","event_time":"2026-11-20T10:00:00Z","original_quantity":"99999999999","reason":"r"}""" },
        { "new_quantity", """{"kind":"amend","idempotency_key":"k","event_id":"e","sku":"s","event_time":"2026-11-20T10:00:00Z","original_quantity":"1","new_quantity":"-2","reason":"r"}""" },
        { "new_quantity", """{"kind":"amend","idempotency_key":"k","event_id":"e","sku":"s","event_time":"2026-11-20T10:00:00Z","original_quantity":"1","new_quantity":"1.0","reason":"r"}""" },
        { "new_quantity", """{"kind":"void","idempotency_key":"k","event_id":"e","sku":"s","event_time":"2026-11-20T10:00:00Z","original_quantity":"1","new_quantity":"0","reason":"r"}""" },
        { "event_time", """{"kind":"void","idempotency_key":"k","event_id":"e","sku":"s","event_time":"2026-11-20","original_quantity":"1","reason":"r"}""" },
        { "sku", """{"kind":"void","idempotency_key":"k","event_id":"e","sku":" s","event_time":"2026-11-20T10:00:00Z","original_quantity":"1","reason":"r"}""" },
        { "amount", """{"kind":"void","idempotency_key":"k","event_id":"e","sku":"s","event_time":"2026-11-20T10:00:00Z","original_quantity":"1","amount":"1","reason":"r"}""" },
        { "new_qty", """{"kind":"amend","idempotency_key":"k","event_id":"e","sku":"s","event_time":"2026-11-20T10:00:00Z","original_quantity":"1","new_quantity":"2","new_qty":"3","reason":"r"}""" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task A_bad_body_is_a_400_naming_the_field_and_stores_nothing(string field, string json)
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        using var response = await PostJson(admin, json);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await ApiTestHost.Json(response);
        Assert.Equal("urn:metering:problem:invalid-parameter", problem.GetProperty("type").GetString());
        Assert.Equal([field], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));
        Assert.Empty((await CorrectionStore.ListAsync(host.Db, "acct-1", null, 10, CancellationToken.None)).Corrections);
    }

    [Fact]
    public async Task A_refusal_by_the_ledger_is_a_422_with_its_code_and_field()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        var time = HourAgo();
        await RecordAsync(host.Db, time, 5m, 1);
        Assert.Equal(HttpStatusCode.Created, (await Post(admin, "acct-1", new { kind = "amend", idempotency_key = "a-1", event_id = "evt-1", sku = "api.calls", event_time = time, original_quantity = "5", new_quantity = "3", reason = "meter fix" })).StatusCode);

        using var mismatch = await Post(admin, "acct-1", new { kind = "amend", idempotency_key = "a-2", event_id = "evt-1", sku = "api.calls", event_time = time, original_quantity = "5", new_quantity = "2", reason = "meter fix" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, mismatch.StatusCode);
        var problem = await ApiTestHost.Json(mismatch);
        Assert.Equal("urn:metering:problem:correction-refused", problem.GetProperty("type").GetString());
        Assert.Equal("quantity_mismatch", problem.GetProperty("code").GetString());
        Assert.Equal(["original_quantity"], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));
        Assert.Contains("has quantity 3", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var old = DateTimeOffset.UtcNow.AddDays(-70).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        using var tooOld = await Post(admin, "acct-1", new { kind = "void", idempotency_key = "v-1", event_id = "evt-2", sku = "api.calls", event_time = old, original_quantity = "5", reason = "late find" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, tooOld.StatusCode);
        Assert.Equal("outside_horizon", (await ApiTestHost.Json(tooOld)).GetProperty("code").GetString());
        Assert.Single((await CorrectionStore.ListAsync(host.Db, "acct-1", null, 10, CancellationToken.None)).Corrections);
    }

    [Fact]
    public async Task Taking_back_more_than_the_ledger_recorded_is_a_422_exceeds_recorded_and_an_amend_up_is_201()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        var time = HourAgo();
        using var never = await Post(admin, "acct-1", new { kind = "void", idempotency_key = "v-1", event_id = "evt-1", sku = "api.calls", event_time = time, original_quantity = "5", reason = "duplicate upload" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, never.StatusCode);
        var problem = await ApiTestHost.Json(never);
        Assert.Equal("urn:metering:problem:correction-refused", problem.GetProperty("type").GetString());
        Assert.Equal("exceeds_recorded", problem.GetProperty("code").GetString());
        Assert.Equal(["original_quantity"], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));
        Assert.Contains("recorded 0 in 0 record(s)", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        await RecordAsync(host.Db, time, 4m, 1);
        using var below = await Post(admin, "acct-1", new { kind = "amend", idempotency_key = "a-1", event_id = "evt-1", sku = "api.calls", event_time = time, original_quantity = "5", new_quantity = "0.5", reason = "meter fix" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, below.StatusCode);
        Assert.Equal("exceeds_recorded", (await ApiTestHost.Json(below)).GetProperty("code").GetString());
        using var up = await Post(admin, "acct-1", new { kind = "amend", idempotency_key = "a-2", event_id = "evt-2", sku = "api.calls", event_time = time, original_quantity = "5", new_quantity = "9", reason = "meter fix" });
        Assert.Equal(HttpStatusCode.Created, up.StatusCode);
        Assert.Single((await CorrectionStore.ListAsync(host.Db, "acct-1", null, 10, CancellationToken.None)).Corrections);
    }

    [Fact]
    public async Task Only_an_unbound_admin_token_may_post_and_a_bound_reader_reads_only_its_account()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var credit = new { kind = "credit", idempotency_key = "c-1", amount = "10", currency = "USD", reason = "outage" };
        using var reader = host.Client(ApiTestHost.Token("billing:read"));
        Assert.Equal(HttpStatusCode.Forbidden, (await Post(reader, "acct-1", credit)).StatusCode);
        using var boundAdmin = host.Client(ApiTestHost.Token("admin", account: "acct-1"));
        Assert.Equal(HttpStatusCode.Forbidden, (await Post(boundAdmin, "acct-1", credit)).StatusCode);
        Assert.Empty((await CorrectionStore.ListAsync(host.Db, "acct-1", null, 10, CancellationToken.None)).Corrections);

        using var admin = host.Client(ApiTestHost.Token("admin"));
        Assert.Equal(HttpStatusCode.Created, (await Post(admin, "acct-1", credit)).StatusCode);
        using var bound = host.Client(ApiTestHost.Token("billing:read", account: "acct-1"));
        Assert.Equal(HttpStatusCode.OK, (await bound.GetAsync("/v1/accounts/acct-1/corrections")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await bound.GetAsync("/v1/accounts/acct-2/corrections")).StatusCode);
    }

    [Fact]
    public async Task The_list_is_newest_first_in_pages_with_money_as_exact_strings()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        for (var i = 1; i <= 3; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await Post(admin, "acct-1", new { kind = i == 2 ? "debit" : "credit", idempotency_key = $"m-{i}", amount = $"{i}.5", currency = "USD", reason = $"manual {i}" })).StatusCode);
        }

        Assert.Equal(HttpStatusCode.Created, (await Post(admin, "acct-2", new { kind = "credit", idempotency_key = "other", amount = "1", currency = "USD", reason = "another account" })).StatusCode);
        using var reader = host.Client(ApiTestHost.Token("billing:read"));
        var first = await ApiTestHost.Json(await reader.GetAsync("/v1/accounts/acct-1/corrections?limit=2"));
        Assert.Equal(["3.50|manual 3", "2.50|manual 2"],
            first.GetProperty("corrections").EnumerateArray().Select(c => c.GetProperty("amount").GetString()!.TrimStart('-') + "|" + c.GetProperty("reason").GetString()));
        Assert.Equal("-3.50", first.GetProperty("corrections")[0].GetProperty("amount").GetString());
        Assert.Equal("2.50", first.GetProperty("corrections")[1].GetProperty("amount").GetString());
        var cursor = first.GetProperty("next_cursor").GetString();
        var second = await ApiTestHost.Json(await reader.GetAsync($"/v1/accounts/acct-1/corrections?limit=2&cursor={cursor}"));
        Assert.Equal(["manual 1"], second.GetProperty("corrections").EnumerateArray().Select(c => c.GetProperty("reason").GetString()));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);

        using var bad = await reader.GetAsync("/v1/accounts/acct-1/corrections?limit=0&cursor=x");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(["cursor", "limit"], (await ApiTestHost.Json(bad)).GetProperty("errors").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }
}
