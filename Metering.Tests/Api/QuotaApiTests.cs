using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Metering.Tests.Storage;

namespace Metering.Tests.Api;

[Collection(PostgresCollection.Name)]
public sealed class QuotaApiTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Quotas_are_added_listed_and_removed_by_admins_and_bad_shapes_are_400_with_the_reason()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        using var created = await admin.PostAsJsonAsync("/v1/accounts/acct-q/quotas", new { metric = "quantity", sku = "api.calls", threshold = "1000000.5" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var quota = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        var id = quota.RootElement.GetProperty("id").GetInt64();
        Assert.Equal("1000000.5", quota.RootElement.GetProperty("threshold").GetString());

        using var amount = await admin.PostAsJsonAsync("/v1/accounts/acct-q/quotas", new { metric = "amount", currency = "USD", threshold = "250.00" });
        Assert.Equal(HttpStatusCode.Created, amount.StatusCode);

        using var reader = host.Client(ApiTestHost.Token("billing:read", account: "acct-q"));
        using var list = JsonDocument.Parse(await reader.GetStringAsync("/v1/accounts/acct-q/quotas"));
        Assert.Equal(2, list.RootElement.GetArrayLength());
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.GetAsync("/v1/accounts/acct-other/quotas")).StatusCode);

        using var noCurrency = await admin.PostAsJsonAsync("/v1/accounts/acct-q/quotas", new { metric = "amount", threshold = "5" });
        Assert.Equal(HttpStatusCode.BadRequest, noCurrency.StatusCode);
        Assert.Contains("currency", await noCurrency.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var badMetric = await admin.PostAsJsonAsync("/v1/accounts/acct-q/quotas", new { metric = "requests", sku = "api.calls", threshold = "5" });
        Assert.Equal(HttpStatusCode.BadRequest, badMetric.StatusCode);

        using var bound = host.Client(ApiTestHost.Token("admin", account: "acct-q"));
        Assert.Equal(HttpStatusCode.Forbidden, (await bound.PostAsJsonAsync("/v1/accounts/acct-q/quotas", new { metric = "quantity", sku = "x", threshold = "1" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostAsJsonAsync("/v1/accounts/acct-q/quotas", new { metric = "quantity", sku = "x", threshold = "1" })).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/accounts/acct-q/quotas/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"/v1/accounts/acct-q/quotas/{id}")).StatusCode);
        using var after = JsonDocument.Parse(await reader.GetStringAsync("/v1/accounts/acct-q/quotas"));
        Assert.Equal(1, after.RootElement.GetArrayLength());
    }
}
