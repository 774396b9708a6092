using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Metering.Tests.Storage;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Metering.Tests.Api;

/// <summary>
/// Measures GET /v1/usage through real Kestrel on loopback (authentication, validation, the in-memory store, JSON).
/// Prints p50/p99; asserts only that every answer is right, never a speed (the machine is shared).
/// Run: dotnet test Metering.Tests -c Release --filter UsageLatencyMeasurement --logger "console;verbosity=detailed"
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class UsageLatencyMeasurement(PostgresFixture postgres, ITestOutputHelper output)
{
    [Fact]
    public async Task Usage_latency_over_1000_requests_through_kestrel()
    {
        await using var host = await ApiTestHost.StartAsync(postgres, kestrel: true);
        var t0 = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        foreach (var sku in new[] { "cdn.requests", "cdn.egress.bytes", "ai.tokens" })
        {
            foreach (var region in new[] { "eu", "us", "ap", "sa" })
            {
                for (var h = 0; h < 24; h++)
                {
                    host.Store.Add(new UsageRow(t0.AddHours(h).AddMinutes(7), "acct-1", sku, new Dictionary<string, string> { ["region"] = region }, 1234.5m + h, 10, 0.42m, "USD"));
                }
            }
        }

        var address = host.App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var client = new HttpClient { BaseAddress = new Uri(address) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiTestHost.Token("usage:read", account: "acct-1"));
        const string url = "/v1/usage?account=acct-1&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&granularity=hour&group_by=region";
        for (var i = 0; i < 100; i++)
        {
            using var warm = await client.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        var samples = new double[1000];
        long bytes = 0;
        for (var i = 0; i < samples.Length; i++)
        {
            var sw = Stopwatch.StartNew();
            using var response = await client.GetAsync(url);
            var body = await response.Content.ReadAsByteArrayAsync();
            samples[i] = sw.Elapsed.TotalMilliseconds;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            bytes = body.Length;
        }

        Array.Sort(samples);
        var line = string.Create(CultureInfo.InvariantCulture,
            $"GET /v1/usage (288 points, {bytes:N0} bytes) x {samples.Length} via Kestrel loopback: p50 {samples[499]:F2} ms, p99 {samples[989]:F2} ms, max {samples[^1]:F2} ms");
        output.WriteLine(line);
        Console.WriteLine(line);
    }
}
