using System.Net;
using System.Text.RegularExpressions;
using Metering.Tests.Storage;

namespace Metering.Tests.WebConsole;

/// <summary>The console's files as <c>metering serve</c> serves them, over plain HTTP (no browser).</summary>
[Collection(PostgresCollection.Name)]
public sealed partial class ConsoleFilesTests(PostgresFixture postgres)
{
    [Fact]
    public async Task The_root_redirects_to_the_console_whose_embedded_files_load_nothing_from_elsewhere_under_a_strict_policy()
    {
        await using var site = await ConsoleSite.StartAsync(postgres);
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(site.Url) };

        foreach (var path in new[] { "/", "/console" })
        {
            using var redirect = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
            Assert.Equal("/console/", redirect.Headers.Location?.OriginalString);
        }

        // Anonymous on purpose: the files hold no data; every number is fetched with the signed-in token.
        using var index = await client.GetAsync("/console/");
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Equal("text/html", index.Content.Headers.ContentType?.MediaType);
        Assert.Contains("script-src 'self'", index.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", index.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        var html = await index.Content.ReadAsStringAsync();

        // Every file the page references is served from the assembly, and no file names another origin (the SVG
        // namespace is an identifier, never fetched).
        var files = new Queue<string>(["index.html"]);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (files.TryDequeue(out var file))
        {
            if (!seen.Add(file))
            {
                continue;
            }

            using var response = await client.GetAsync("/console/" + file);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"/console/{file}: {(int)response.StatusCode}");
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            var text = await response.Content.ReadAsStringAsync();
            var outside = OutsideAddress().Matches(text).Select(m => m.Value).Where(u => u != "http://www.w3.org/2000/svg").ToList();
            Assert.True(outside.Count == 0, $"{file} names another origin: {string.Join(", ", outside)}");
            foreach (Match reference in LocalReference().Matches(text))
            {
                files.Enqueue(reference.Groups["f"].Value);
            }
        }

        Assert.Superset(new HashSet<string>(["index.html", "app.js", "api.js", "charts.js", "usage.js", "statements.js", "pricebooks.js", "operators.js", "console.css"]), seen);
        Assert.Contains("app.js", html, StringComparison.Ordinal);

        using var etag = new HttpRequestMessage(HttpMethod.Get, "/console/app.js");
        using var first = await client.GetAsync("/console/app.js");
        etag.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        using var again = await client.SendAsync(etag);
        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);

        using var missing = await client.GetAsync("/console/nothing.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var traversal = await client.GetAsync("/console/..%2FMetering.Web.dll");
        Assert.Equal(HttpStatusCode.NotFound, traversal.StatusCode);
    }

    [GeneratedRegex(@"https?://[^\s'""`)<>]+")]
    private static partial Regex OutsideAddress();

    // src="x.js", href="x.css", and ES module imports from './x.js'.
    [GeneratedRegex(@"(?:src|href)=""(?<f>[a-z0-9_.-]+\.(?:js|css|svg))""|from '\./(?<f>[a-z0-9_.-]+\.js)'")]
    private static partial Regex LocalReference();
}
