using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Metering.Ledger.Accounts;
using Metering.Tests.Api;
using Metering.Tests.Storage;

namespace Metering.Tests.Accounts;

/// <summary><c>PUT/GET /v1/accounts/{account}</c> and <c>GET /v1/accounts</c> against a real PostgreSQL ledger.</summary>
[Collection(PostgresCollection.Name)]
public sealed class AccountApiTests(PostgresFixture postgres)
{
    private static object Terms(string currency = "EUR", int? anchorDay = 15, string? timeZone = "Europe/Berlin", string? reason = "signed the enterprise plan") => new
    {
        currency,
        list_book = "edge-list",
        contract_book = "acct-1-enterprise",
        start = "2026-11-15T00:00:00+01:00",
        end = "2027-11-15T00:00:00+01:00",
        anchor_day = anchorDay,
        time_zone = timeZone,
        reason,
    };

    private static Task<HttpResponseMessage> Put(HttpClient client, string account, object body) =>
        client.PutAsJsonAsync($"/v1/accounts/{Uri.EscapeDataString(account)}", body);

    [Fact]
    public async Task Putting_the_same_terms_twice_is_unchanged_the_second_time_and_audited_once()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));

        using var first = await Put(admin, "acct-1", Terms());
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal("/v1/accounts/acct-1", first.Headers.Location?.ToString());
        var created = await ApiTestHost.Json(first);
        Assert.Equal("created", created.GetProperty("status").GetString());
        var account = created.GetProperty("account");
        Assert.Equal("acct-1", account.GetProperty("account").GetString());
        Assert.Equal("EUR", account.GetProperty("currency").GetString());
        Assert.Equal("edge-list", account.GetProperty("list_book").GetString());
        Assert.Equal("acct-1-enterprise", account.GetProperty("contract_book").GetString());
        Assert.Equal(new DateTimeOffset(2026, 11, 14, 23, 0, 0, TimeSpan.Zero), account.GetProperty("start").GetDateTimeOffset());
        Assert.Equal(15, account.GetProperty("anchor_day").GetInt32());
        Assert.Equal("Europe/Berlin", account.GetProperty("time_zone").GetString());

        // The same instant written with another offset is the same term.
        using var second = await Put(admin, "acct-1", new
        {
            currency = "EUR", list_book = "edge-list", contract_book = "acct-1-enterprise", start = "2026-11-14T23:00:00Z",
            end = "2027-11-14T23:00:00Z", anchor_day = 15, time_zone = "Europe/Berlin", reason = "sent again by a retrying client",
        });
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var unchanged = await ApiTestHost.Json(second);
        Assert.Equal("unchanged", unchanged.GetProperty("status").GetString());
        Assert.Equal(account.GetProperty("updated_at").GetDateTimeOffset(), unchanged.GetProperty("account").GetProperty("updated_at").GetDateTimeOffset());

        var changes = await AccountStore.ChangesAsync(host.Db, "acct-1", CancellationToken.None);
        var only = Assert.Single(changes);
        Assert.Equal("created", only.Change);
        Assert.Equal("signed the enterprise plan", only.Reason);
        Assert.Null(only.Previous);
    }

    [Fact]
    public async Task A_change_replaces_the_terms_and_keeps_the_previous_ones_with_actor_and_reason()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        Assert.Equal(HttpStatusCode.Created, (await Put(admin, "acct-2", Terms())).StatusCode);

        using var changed = await Put(admin, "acct-2", Terms(currency: "USD", anchorDay: null, timeZone: null, reason: "moved to the US entity"));
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        var body = await ApiTestHost.Json(changed);
        Assert.Equal("updated", body.GetProperty("status").GetString());
        Assert.Equal("USD", body.GetProperty("account").GetProperty("currency").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("account").GetProperty("time_zone").ValueKind);
        Assert.True(body.GetProperty("account").GetProperty("updated_at").GetDateTimeOffset() >= body.GetProperty("account").GetProperty("created_at").GetDateTimeOffset());

        using var read = host.Client(ApiTestHost.Token("billing:read"));
        var stored = await ApiTestHost.Json(await read.GetAsync("/v1/accounts/acct-2"));
        Assert.Equal("USD", stored.GetProperty("currency").GetString());
        Assert.Equal(JsonValueKind.Null, stored.GetProperty("anchor_day").ValueKind);

        var changes = await AccountStore.ChangesAsync(host.Db, "acct-2", CancellationToken.None);
        Assert.Equal(["created", "updated"], changes.Select(c => c.Change));
        var update = changes[1];
        Assert.Equal("jwt:test-client", update.Actor);
        Assert.Equal("moved to the US entity", update.Reason);
        using var previous = JsonDocument.Parse(update.Previous!);
        Assert.Equal("EUR", previous.RootElement.GetProperty("currency").GetString());
        Assert.Equal(15, previous.RootElement.GetProperty("anchor_day").GetInt32());
        Assert.Equal("Europe/Berlin", previous.RootElement.GetProperty("time_zone").GetString());
        using var now = JsonDocument.Parse(update.Terms);
        Assert.Equal("USD", now.RootElement.GetProperty("currency").GetString());
        Assert.Equal(JsonValueKind.Null, now.RootElement.GetProperty("time_zone").ValueKind);
    }

    public static TheoryData<string, string> BadBodies() => new()
    {
        { "currency", """{"currency":"usd","list_book":"edge-list","start":"2026-11-01T00:00:00Z"}""" },
        { "currency", """{"currency":"ABC","list_book":"edge-list","start":"2026-11-01T00:00:00Z"}""" },
        { "time_zone", """{"currency":"USD","list_book":"edge-list","start":"2026-11-01T00:00:00Z","time_zone":"Europe/Atlantis"}""" },
        { "anchor_day", """{"currency":"USD","list_book":"edge-list","start":"2026-11-01T00:00:00Z","anchor_day":29}""" },
        { "anchor_day", """{"currency":"USD","list_book":"edge-list","start":"2026-11-01T00:00:00Z","anchor_day":0}""" },
        { "end", """{"currency":"USD","list_book":"edge-list","start":"2026-11-01T00:00:00Z","end":"2026-11-01T00:00:00Z"}""" },
        { "end", """{"currency":"USD","list_book":"edge-list","start":"2026-11-01T00:00:00Z","end":"2026-10-31T23:59:59Z"}""" },
        { "start", """{"currency":"USD","list_book":"edge-list","start":"2026-11-01"}""" },
        { "list_book", """{"currency":"USD","start":"2026-11-01T00:00:00Z"}""" },
        { "timezone", """{"currency":"USD","list_book":"edge-list","start":"2026-11-01T00:00:00Z","timezone":"Europe/Berlin"}""" },
        { "contract_book", """{"currency":"USD","list_book":"edge-list","contract_book":"has space","start":"2026-11-01T00:00:00Z"}""" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Bad_terms_are_a_400_naming_the_field_and_nothing_is_stored(string field, string json)
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        using var response = await admin.PutAsync("/v1/accounts/acct-bad", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ApiTestHost.Json(response);
        Assert.Equal("urn:metering:problem:invalid-parameter", problem.GetProperty("type").GetString());
        Assert.Equal([field], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));

        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/v1/accounts/acct-bad")).StatusCode);
        Assert.Empty(await AccountStore.ChangesAsync(host.Db, "acct-bad", CancellationToken.None));
    }

    [Theory]
    [InlineData("acct%09")]
    [InlineData("%20acct")]
    [InlineData("acct%C2%85")]
    public async Task Account_ids_the_records_could_not_carry_are_a_400_naming_the_account(string escaped)
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        using var response = await admin.PutAsync($"/v1/accounts/{escaped}", JsonContent.Create(Terms()));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(["account"], (await ApiTestHost.Json(response)).GetProperty("errors").EnumerateObject().Select(p => p.Name));
        Assert.Empty((await AccountStore.ListAsync(host.Db, null, 10, CancellationToken.None)).Accounts);
    }

    [Fact]
    public async Task A_bad_change_leaves_the_stored_terms_and_the_audit_as_they_were()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        Assert.Equal(HttpStatusCode.Created, (await Put(admin, "acct-3", Terms())).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Put(admin, "acct-3", Terms(currency: "EURO"))).StatusCode);
        var stored = await AccountStore.GetAsync(host.Db, "acct-3", CancellationToken.None);
        Assert.Equal("EUR", stored!.Terms.Currency.Code);
        Assert.Single(await AccountStore.ChangesAsync(host.Db, "acct-3", CancellationToken.None));
    }

    [Fact]
    public async Task The_longest_account_id_the_records_allow_is_stored_and_read_back()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        var account = new string('é', 64); // 128 UTF-8 bytes, 64 characters
        Assert.Equal(HttpStatusCode.Created, (await Put(admin, account, Terms())).StatusCode);
        var read = await ApiTestHost.Json(await admin.GetAsync($"/v1/accounts/{Uri.EscapeDataString(account)}"));
        Assert.Equal(account, read.GetProperty("account").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await Put(admin, account + "e", Terms())).StatusCode);
    }

    [Fact]
    public async Task An_account_bound_token_reads_only_its_own_account_and_changes_or_lists_none()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        Assert.Equal(HttpStatusCode.Created, (await Put(admin, "acct-own", Terms())).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Put(admin, "acct-other", Terms())).StatusCode);

        using var bound = host.Client(ApiTestHost.Token("billing:read", account: "acct-own"));
        Assert.Equal(HttpStatusCode.OK, (await bound.GetAsync("/v1/accounts/acct-own")).StatusCode);
        using var foreign = await bound.GetAsync("/v1/accounts/acct-other");
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        Assert.DoesNotContain("edge-list", await foreign.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // Not even whether another account has terms: a missing one is 403 too, not 404.
        Assert.Equal(HttpStatusCode.Forbidden, (await bound.GetAsync("/v1/accounts/acct-missing")).StatusCode);

        using var boundAdmin = host.Client(ApiTestHost.Token("admin", account: "acct-own"));
        Assert.Equal(HttpStatusCode.Forbidden, (await Put(boundAdmin, "acct-own", Terms(currency: "USD"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await boundAdmin.GetAsync("/v1/accounts")).StatusCode);
        Assert.Equal("EUR", (await AccountStore.GetAsync(host.Db, "acct-own", CancellationToken.None))!.Terms.Currency.Code);

        using var reader = host.Client(ApiTestHost.Token("billing:read"));
        Assert.Equal(HttpStatusCode.Forbidden, (await Put(reader, "acct-own", Terms(currency: "USD"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.GetAsync("/v1/accounts")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await host.Client(ApiTestHost.Token("usage:read")).GetAsync("/v1/accounts/acct-own")).StatusCode);
    }

    [Fact]
    public async Task List_pages_cover_every_account_exactly_once_in_id_order()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        // Ids whose order differs between byte order and a locale's collation (case, accents, digits).
        var accounts = Enumerable.Range(0, 23).Select(i => $"acct-{i}").Concat(["Acct-Z", "acct-é", "acct-e", "ACCT", "b", "a.b", "z-last"]).ToList();
        foreach (var account in accounts)
        {
            Assert.Equal(HttpStatusCode.Created, (await Put(admin, account, Terms())).StatusCode);
        }

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var url = cursor is null ? "/v1/accounts?limit=7" : $"/v1/accounts?limit=7&cursor={Uri.EscapeDataString(cursor)}";
            using var response = await admin.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = await ApiTestHost.Json(response);
            var items = page.GetProperty("accounts").EnumerateArray().Select(a => a.GetProperty("account").GetString()!).ToList();
            Assert.InRange(items.Count, 1, 7);
            seen.AddRange(items);
            cursor = page.GetProperty("next_cursor").GetString();
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(accounts.Order(StringComparer.Ordinal), seen);
        Assert.Equal(5, pages); // 30 accounts, 7 per page
        var all = await ApiTestHost.Json(await admin.GetAsync("/v1/accounts"));
        Assert.Equal(accounts.Count, all.GetProperty("accounts").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, all.GetProperty("next_cursor").ValueKind);

        foreach (var bad in new[] { "limit=0", "limit=1001", "limit=x", "cursor=%25%25", "cursor=" + Convert.ToBase64String([0xFF, 0xFE]) })
        {
            using var response = await admin.GetAsync("/v1/accounts?" + bad);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal([bad.Split('=')[0]], (await ApiTestHost.Json(response)).GetProperty("errors").EnumerateObject().Select(p => p.Name));
        }
    }
}
