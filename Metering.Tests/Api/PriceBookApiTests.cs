using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Metering.Rating.PriceBooks;
using Metering.Tests.Storage;

namespace Metering.Tests.Api;

[Collection(PostgresCollection.Name)]
public sealed class PriceBookApiTests(PostgresFixture postgres)
{
    private static readonly string ListPath = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "list.json");
    private static readonly string ContractPath = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "contract-acct-1.json");

    /// <summary>The example book cut down to its version <paramref name="index"/>, optionally edited.</summary>
    private static string OneVersion(string path, int index, Action<JsonObject>? edit = null)
    {
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var version = root["versions"]![index]!.DeepClone();
        root["versions"] = new JsonArray(version);
        edit?.Invoke(root);
        return root.ToJsonString();
    }

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Publish_is_created_then_idempotent_and_readable_with_the_loader_hash()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var writer = host.Client(ApiTestHost.Token("pricebooks:write"));
        var doc = OneVersion(ListPath, 0);
        var expectedHash = PriceBookLoader.Load(Encoding.UTF8.GetBytes(doc), "test").Versions[0].Hash;

        using (var created = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-10", Body(doc)))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal("/v1/pricebooks/edge-list/versions/2026-10", created.Headers.Location?.ToString());
            Assert.Equal(expectedHash, (await ApiTestHost.Json(created)).GetProperty("hash").GetString());
        }

        // Same content, even re-formatted, is the same version: 200, nothing changes.
        using (var again = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-10", Body(JsonNode.Parse(doc)!.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }))))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Equal(expectedHash, (await ApiTestHost.Json(again)).GetProperty("hash").GetString());
        }

        var reader = host.Client(ApiTestHost.Token("billing:read"));
        using (var get = await reader.GetAsync("/v1/pricebooks/edge-list/versions/2026-10"))
        {
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            var body = await ApiTestHost.Json(get);
            Assert.Equal(expectedHash, body.GetProperty("hash").GetString());
            Assert.Equal("0.0000005", body.GetProperty("document").GetProperty("versions")[0].GetProperty("prices").GetProperty("cdn.requests").GetProperty("unit_price").GetString());
        }

        using (var list = await reader.GetAsync("/v1/pricebooks"))
        {
            var books = (await ApiTestHost.Json(list)).GetProperty("books");
            Assert.Equal("edge-list", books[0].GetProperty("id").GetString());
            Assert.Equal("2026-10", books[0].GetProperty("versions")[0].GetProperty("version").GetString());
        }

        using var missing = await reader.GetAsync("/v1/pricebooks/edge-list/versions/1999-01");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Published_version_is_immutable_and_versions_must_not_overlap()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var writer = host.Client(ApiTestHost.Token("pricebooks:write"));
        using (var first = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-10", Body(OneVersion(ListPath, 0))))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        }

        var changed = OneVersion(ListPath, 0, r => r["versions"]![0]!["prices"]!["cdn.requests"]!["unit_price"] = "0.0000006");
        using (var conflict = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-10", Body(changed)))
        {
            Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
            Assert.Contains("immutable", (await ApiTestHost.Json(conflict)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var overlapping = OneVersion(ListPath, 1, r => r["versions"]![0]!["effective_from"] = "2026-10-15T00:00:00Z");
        using (var overlap = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-11", Body(overlapping)))
        {
            Assert.Equal(HttpStatusCode.Conflict, overlap.StatusCode);
            Assert.Contains("overlaps", (await ApiTestHost.Json(overlap)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var otherCurrency = OneVersion(ListPath, 1, r => r["currency"] = "EUR");
        using (var header = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-11", Body(otherCurrency)))
        {
            Assert.Equal(HttpStatusCode.Conflict, header.StatusCode);
        }

        using var next = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-11", Body(OneVersion(ListPath, 1)));
        Assert.Equal(HttpStatusCode.Created, next.StatusCode);
    }

    [Fact]
    public async Task Invalid_books_are_400_with_the_json_paths_of_every_problem()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var writer = host.Client(ApiTestHost.Token("pricebooks:write"));
        var bad = OneVersion(ListPath, 0, r =>
        {
            r["currency"] = "XYZ";
            r["versions"]![0]!["prices"]!["cdn.requests"]!["unit_price"] = "-1";
        });
        using var response = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-10", Body(bad));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = (await ApiTestHost.Json(response)).GetProperty("errors");
        Assert.True(errors.TryGetProperty("$.currency", out _), errors.ToString());
        Assert.True(errors.TryGetProperty("$.versions[0].prices[\"cdn.requests\"].unit_price", out _), errors.ToString());

        using var mismatch = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-12", Body(OneVersion(ListPath, 0)));
        Assert.Equal(HttpStatusCode.BadRequest, mismatch.StatusCode);
        Assert.True((await ApiTestHost.Json(mismatch)).GetProperty("errors").TryGetProperty("$.versions[0].version", out _));

        using var notJson = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-10", Body("{\"id\": "));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        Assert.True((await ApiTestHost.Json(notJson)).GetProperty("errors").TryGetProperty("$", out _));

        using var badId = await writer.PutAsync("/v1/pricebooks/bad%20id/versions/2026-10", Body(OneVersion(ListPath, 0)));
        Assert.Equal(HttpStatusCode.BadRequest, badId.StatusCode);
        Assert.True((await ApiTestHost.Json(badId)).GetProperty("errors").TryGetProperty("id", out _));

        using var text = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-10", new StringContent(OneVersion(ListPath, 0), Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);

        using var huge = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-10", Body(new string(' ', 70 * 1024) + OneVersion(ListPath, 0)));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
    }

    [Fact]
    public async Task Contract_book_needs_its_published_list_book_and_is_hidden_from_other_accounts()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var writer = host.Client(ApiTestHost.Token("pricebooks:write"));
        var contract = OneVersion(ContractPath, 0);
        using (var early = await writer.PutAsync("/v1/pricebooks/acct-1-enterprise/versions/2026-11-enterprise", Body(contract)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, early.StatusCode);
            Assert.True((await ApiTestHost.Json(early)).GetProperty("errors").TryGetProperty("$.parent", out _));
        }

        using (var list = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-11", Body(OneVersion(ListPath, 1))))
        {
            Assert.Equal(HttpStatusCode.Created, list.StatusCode);
        }

        using (var published = await writer.PutAsync("/v1/pricebooks/acct-1-enterprise/versions/2026-11-enterprise", Body(contract)))
        {
            Assert.Equal(HttpStatusCode.Created, published.StatusCode);
        }

        using (var own = await host.Client(ApiTestHost.Token("billing:read", account: "acct-1")).GetAsync("/v1/pricebooks/acct-1-enterprise/versions/2026-11-enterprise"))
        {
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        }

        var stranger = host.Client(ApiTestHost.Token("billing:read", account: "acct-2"));
        using (var hidden = await stranger.GetAsync("/v1/pricebooks/acct-1-enterprise/versions/2026-11-enterprise"))
        {
            Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        }

        using var books = await stranger.GetAsync("/v1/pricebooks");
        Assert.Equal(["edge-list"], (await ApiTestHost.Json(books)).GetProperty("books").EnumerateArray().Select(b => b.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task Publishing_needs_the_pricebooks_write_scope()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var response = await host.Client(ApiTestHost.Token("billing:read usage:read")).PutAsync("/v1/pricebooks/edge-list/versions/2026-10", Body(OneVersion(ListPath, 0)));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("pricebooks:write", (await ApiTestHost.Json(response)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_publishes_of_one_version_store_exactly_one_content()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var writer = host.Client(ApiTestHost.Token("pricebooks:write"));
        var bodies = Enumerable.Range(0, 8)
            .Select(i => OneVersion(ListPath, 0, r => r["versions"]![0]!["prices"]!["cdn.requests"]!["unit_price"] = i % 2 == 0 ? "0.0000005" : "0.0000009"))
            .ToList();
        var responses = await Task.WhenAll(bodies.Select(b => writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-10", Body(b))));
        var codes = responses.Select(r => r.StatusCode).ToList();
        foreach (var r in responses)
        {
            r.Dispose();
        }

        Assert.Equal(1, codes.Count(c => c == HttpStatusCode.Created));
        Assert.Equal(3, codes.Count(c => c == HttpStatusCode.OK));
        Assert.Equal(4, codes.Count(c => c == HttpStatusCode.Conflict));
    }
}
