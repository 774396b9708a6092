using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Metering.Tests.Storage;

namespace Metering.Tests.Api;

/// <summary>The API's price-book PUT reports the validator's traps with the same paths and messages as <c>metering pricebook validate</c>.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PriceBookValidationApiTests(PostgresFixture postgres)
{
    private static readonly string ListPath = Path.Combine(AppContext.BaseDirectory, "examples", "pricebooks", "list.json");

    private static string OneVersion(int index, Action<JsonObject>? edit = null)
    {
        var root = JsonNode.Parse(File.ReadAllText(ListPath))!.AsObject();
        root["versions"] = new JsonArray(root["versions"]![index]!.DeepClone());
        edit?.Invoke(root);
        return root.ToJsonString();
    }

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<string> OnlyError(HttpResponseMessage response, string path)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await ApiTestHost.Json(response)).GetProperty("errors");
        Assert.True(errors.TryGetProperty(path, out var messages), errors.ToString());
        return Assert.Single(messages.EnumerateArray()).GetString()!;
    }

    [Fact]
    public async Task A_repeated_key_is_400_at_the_path_of_the_second_key_and_nothing_is_published()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var writer = host.Client(ApiTestHost.Token("pricebooks:write"));
        // The serializer writes no duplicate: put the second unit_price into the text itself.
        var doc = OneVersion(0).Replace("\"unit_price\":\"0.0000005\"", "\"unit_price\":\"0.0000005\",\"unit_price\":\"0.0000009\"", StringComparison.Ordinal);

        using (var response = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-10", Body(doc)))
        {
            Assert.StartsWith("duplicate key \"unit_price\": the same object already has it at line 1, column ",
                await OnlyError(response, "$.versions[0].prices[\"cdn.requests\"].unit_price"), StringComparison.Ordinal);
        }

        using var get = await host.Client(ApiTestHost.Token("billing:read")).GetAsync("/v1/pricebooks/edge-list/versions/2026-10");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task A_trailing_comma_is_400_saying_where_it_is_and_to_remove_it()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var writer = host.Client(ApiTestHost.Token("pricebooks:write"));
        var doc = OneVersion(0);
        doc = doc[..^1] + ",\n}";

        using var response = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-10", Body(doc));
        Assert.Equal($"not valid JSON: trailing comma at line 1, column {doc.Length - 2} before '}}': remove the trailing comma (JSON allows none after the last member or element)",
            await OnlyError(response, "$"));
    }

    [Fact]
    public async Task A_version_leaving_a_gap_after_the_published_one_is_400_naming_the_gap_and_one_that_meets_it_is_published()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var writer = host.Client(ApiTestHost.Token("pricebooks:write"));
        using (var october = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-10", Body(OneVersion(0)))) // [2026-10-01, 2026-11-01)
        {
            Assert.Equal(HttpStatusCode.Created, october.StatusCode);
        }

        var late = OneVersion(1, r => r["versions"]![0]!["effective_from"] = "2026-12-01T00:00:00Z");
        using (var gap = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-11", Body(late)))
        {
            Assert.Equal("leaves a gap: no version is effective from 2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z (between '2026-10' and '2026-11'), so usage in it is unpriced, " +
                "and so is all the usage of the billing period starting 2026-11-01T00:00:00Z (a period is rated at its start); start '2026-11' where the published '2026-10' ends or publish a version for the gap first",
                await OnlyError(gap, "$.versions[0].effective_from"));
        }

        using var meets = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-11", Body(OneVersion(1)));
        Assert.Equal(HttpStatusCode.Created, meets.StatusCode);
    }

    [Fact]
    public async Task A_field_the_model_does_not_read_is_400_at_its_path()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var writer = host.Client(ApiTestHost.Token("pricebooks:write"));
        var doc = OneVersion(0, r => r["versions"]![0]!["prices"]!["cdn.requests"]!["package_size"] = "10");

        using var response = await writer.PutAsync("/v1/pricebooks/edge-list/versions/2026-10", Body(doc));
        Assert.StartsWith("does not belong to a per_unit price, which would ignore it (a per_unit price has: ",
            await OnlyError(response, "$.versions[0].prices[\"cdn.requests\"].package_size"), StringComparison.Ordinal);
    }
}
