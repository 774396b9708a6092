using System.Net;
using System.Text;
using System.Text.Json;
using Metering.DevKit.Kafka;
using Metering.Web.Api;
using Metering.Web.HttpIngest;
using Metering.Tests.Api;

namespace Metering.Tests.Ingest;

/// <summary>Admission before the body is read, and rate limits per credential, through real Kestrel and a real embedded Kafka.</summary>
public sealed class IngestLimitsTests : IDisposable
{
    private const int Partitions = 2;
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var d in _owned)
        {
            d.Dispose();
        }

        _kafka.Dispose();
    }

    // One instant for the whole class: a record re-sent with the same id must carry the same time, or it is a conflict.
    private static readonly string Now = DateTime.UtcNow.AddMinutes(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    private static string Record(string id, string account = "acct-a") =>
        $$$"""{"id":"{{{id}}}","account":"{{{account}}}","sku":"api.calls","quantity":"1","time":"{{{Now}}}"}""";

    private static readonly ApiKeyStore Keys = new([
        new ApiKey("edge-a", Convert.FromHexString(ApiKeyStore.Hash("key-of-a")), null),
        new ApiKey("edge-b", Convert.FromHexString(ApiKeyStore.Hash("key-of-b")), null),
    ]);

    private (HttpIngestService Service, string Topic) Service(Func<HttpIngestOptions, HttpIngestOptions>? tune = null)
    {
        var topic = "limits-" + Guid.NewGuid().ToString("N")[..8];
        _kafka.CreateTopic(topic, Partitions);
        var options = new HttpIngestOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, DeliveryTimeout = TimeSpan.FromSeconds(10) };
        var service = new HttpIngestService(tune?.Invoke(options) ?? options, null, Keys);
        _owned.Add(service);
        return (service, topic);
    }

    private static string[] ConsumedIds(HttpIngestService service, string topic, int expected) =>
        [.. IngestTestHost.ConsumeAll(service.Options.BootstrapServers, topic, Partitions, expected, TimeSpan.FromSeconds(20))
            .Select(r => JsonDocument.Parse(r.Message.Value).RootElement.GetProperty("id").GetString()!).Order(StringComparer.Ordinal)];

    private static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }

    // Starts a request whose body is only partly sent, so it holds its admission while the test goes on.
    private static async Task<KestrelIngestHost.RawConnection> HalfSentAsync(KestrelIngestHost host, string head, string firstPart)
    {
        var raw = await host.ConnectAsync();
        await raw.SendAsync(head + firstPart);
        return raw;
    }

    private static async Task Assert429BeforeReading(HttpResponseMessage response, string mentions)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(3), response.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(mentions, (await Json(response)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_over_the_byte_budget_is_429_before_its_body_is_read_and_fits_again_once_the_holder_is_done()
    {
        var (service, topic) = Service(o => o with { MaxBodyBytes = 4096, MaxBufferedBytes = 4096, RetryAfterSeconds = 3 });
        await using var host = await KestrelIngestHost.StartAsync(service);
        var held = Record("h1") + "\n";
        var padding = new string(' ', 3000 - Encoding.UTF8.GetByteCount(held));
        using var holder = await HalfSentAsync(host, "POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Api-Key: key-of-a\r\nContent-Type: application/x-ndjson\r\nContent-Length: 3000\r\n\r\n", held);
        using var client = host.ApiKey("key-of-b");
        // The holder's 3000 bytes are taken as soon as its headers arrive; wait until the server has admitted it.
        var admission = host.App.Services.GetService(typeof(IngestAdmission)) as IngestAdmission;
        Assert.NotNull(admission);
        while (admission.Bytes < 3000)
        {
            await Task.Delay(20);
        }

        using (var refused = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("r1") + "\n" + new string(' ', 1500))))
        {
            await Assert429BeforeReading(refused, "--ingest-max-buffered-bytes");
        }

        await holder.SendAsync(padding);
        var (status, _, _) = await holder.ReadResponseAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(202, status);
        using (var later = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("r2"))))
        {
            Assert.Equal(HttpStatusCode.Accepted, later.StatusCode);
        }

        Assert.Equal(0, admission.Bytes);
        Assert.Equal(["h1", "r2"], ConsumedIds(service, topic, 2));
    }

    [Fact]
    public async Task A_chunked_body_takes_the_budget_as_it_arrives_and_one_request_too_many_is_429()
    {
        var (service, topic) = Service(o => o with { MaxBodyBytes = 4096, MaxBufferedBytes = 8192, MaxConcurrentRequests = 1, RetryAfterSeconds = 3 });
        await using var host = await KestrelIngestHost.StartAsync(service);
        var first = Record("c1") + "\n";
        using var holder = await HalfSentAsync(host, "POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Api-Key: key-of-a\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n",
            $"{Encoding.UTF8.GetByteCount(first):x}\r\n{first}\r\n");
        var admission = (IngestAdmission)host.App.Services.GetService(typeof(IngestAdmission))!;
        while (admission.Requests < 1)
        {
            await Task.Delay(20);
        }

        Assert.Equal(4096, admission.Bytes); // a chunked body takes a step (capped at the body limit), not nothing
        using (var refused = await host.ApiKey("key-of-b").PostAsync("/v1/events", IngestTestHost.Ndjson(Record("c2"))))
        {
            await Assert429BeforeReading(refused, "--ingest-max-concurrent-requests");
        }

        await holder.SendAsync("0\r\n\r\n");
        var (status, _, _) = await holder.ReadResponseAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(202, status);
        Assert.Equal(0, admission.Requests);
        Assert.Equal(["c1"], ConsumedIds(service, topic, 1));
    }

    [Fact]
    public async Task A_credential_over_its_rate_limit_gets_429_with_retry_after_while_other_credentials_and_probes_go_on()
    {
        var (service, topic) = Service();
        var options = new ApiOptions
        {
            JwtIssuer = ApiTestHost.Issuer,
            JwtAudience = ApiTestHost.Audience,
            JwtSigningKey = ApiTestHost.Key,
            HttpIngest = service,
            RateLimitPerSecond = 2,
            RateLimitBurst = 2,
            AnonymousRateLimitPerSecond = 1,
            RateLimitPeriod = TimeSpan.FromHours(1), // no token comes back during the test
        };
        await using var host = await KestrelIngestHost.StartAsync(service, options);
        using var a = host.ApiKey("key-of-a");
        for (var i = 0; i < 2; i++)
        {
            using var ok = await a.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("a" + i)));
            Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
        }

        using (var limited = await a.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("a-over"))))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
            Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
            Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
            Assert.Equal("urn:metering:problem:rate-limited", (await Json(limited)).GetProperty("type").GetString());
        }

        // Another key, and a JWT, have buckets of their own.
        using (var b = await host.ApiKey("key-of-b").PostAsync("/v1/events", IngestTestHost.Ndjson(Record("b0"))))
        {
            Assert.Equal(HttpStatusCode.Accepted, b.StatusCode);
        }

        using (var jwt = await host.Bearer("ingest:write").PostAsync("/v1/events", IngestTestHost.Ndjson(Record("j0"))))
        {
            Assert.Equal(HttpStatusCode.Accepted, jwt.StatusCode);
        }

        // Without a valid credential the remote address is the partition (burst 2 x 1): the third is limited, not 401.
        using var anonymous = host.Client();
        var codes = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var r = await anonymous.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("x" + i)));
            codes.Add(r.StatusCode);
        }

        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests], codes);

        // Probes and the scrape endpoint are never limited.
        for (var i = 0; i < 5; i++)
        {
            using var health = await anonymous.GetAsync("/healthz");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        Assert.Equal(["a0", "a1", "b0", "j0"], ConsumedIds(service, topic, 4));
    }
}
