using System.Net;
using Metering.Tests.Storage;

namespace Metering.Tests.Api;

[Collection(PostgresCollection.Name)]
public sealed class OpenApiDocumentTests(PostgresFixture postgres)
{
    /// <summary>docs/openapi.json of this checkout.</summary>
    private static string CommittedPath()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Metering.sln")))
        {
            dir = dir.Parent;
        }

        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("Metering.sln not found above the test binaries"), "docs", "openapi.json");
    }

    /// <summary>
    /// The served document equals the committed docs/openapi.json, so the published contract cannot drift from the code.
    /// After an intended API change, regenerate it: METERING_UPDATE_OPENAPI=1 dotnet test --filter OpenApiDocumentTests.
    /// </summary>
    [Fact]
    public async Task Served_openapi_document_equals_the_committed_docs_openapi_json()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var response = await host.Client(ApiTestHost.Token("usage:read")).GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var served = (await response.Content.ReadAsStringAsync()).ReplaceLineEndings("\n").TrimEnd() + "\n";
        var path = CommittedPath();
        if (Environment.GetEnvironmentVariable("METERING_UPDATE_OPENAPI") == "1")
        {
            await File.WriteAllTextAsync(path, served);
        }

        Assert.True(File.Exists(path), $"{path} is missing: run the test with METERING_UPDATE_OPENAPI=1 to write it");
        var committed = (await File.ReadAllTextAsync(path)).ReplaceLineEndings("\n");
        Assert.True(committed == served, "the served OpenAPI document differs from docs/openapi.json: review the API change and regenerate it with METERING_UPDATE_OPENAPI=1");
        Assert.Contains("\"/v1/usage\"", served, StringComparison.Ordinal);
        Assert.Contains("\"bearer\"", served, StringComparison.Ordinal);
    }
}
