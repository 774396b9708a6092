using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Metering.DevKit.Kafka;
using Metering.Web.HttpIngest;
using Metering.Tests.Api;
using Metering.Tests.Redis;

namespace Metering.Tests.Ingest;

/// <summary>
/// POST /v1/events through real Kestrel: one credential per request, broken bodies, and a slow Redis, against a real
/// embedded Kafka and a real Redis. Nothing of a refused request may reach the topic.
/// </summary>
public sealed class HttpEdgeTests(RedisFixture redis) : IClassFixture<RedisFixture>, IDisposable
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

    private static string Record(string id, string account) =>
        $$$"""{"id":"{{{id}}}","account":"{{{account}}}","sku":"api.calls","quantity":"1","time":"{{{Now}}}"}""";

    private static readonly ApiKeyStore Keys = new([
        new ApiKey("edge-a", Convert.FromHexString(ApiKeyStore.Hash("key-of-a")), ["acct-a"]),
        new ApiKey("edge-b", Convert.FromHexString(ApiKeyStore.Hash("key-of-b")), ["acct-b"]),
    ]);

    private (HttpIngestService Service, string Topic) Service(bool withRedis = false)
    {
        var topic = "edge-" + Guid.NewGuid().ToString("N")[..8];
        _kafka.CreateTopic(topic, Partitions);
        var mux = withRedis ? redis.Connect() : null;
        if (mux is not null)
        {
            _owned.Add(mux);
        }

        var service = new HttpIngestService(new HttpIngestOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, DeliveryTimeout = TimeSpan.FromSeconds(10) }, mux, Keys);
        _owned.Add(service);
        return (service, topic);
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }

    private static string[] Statuses(JsonElement body) => [.. body.GetProperty("receipts").EnumerateArray().Select(r => r.GetProperty("status").GetString()!)];

    private static string[] ConsumedIds(HttpIngestService service, string topic, int expected) =>
        [.. IngestTestHost.ConsumeAll(service.Options.BootstrapServers, topic, Partitions, expected, TimeSpan.FromSeconds(20))
            .Select(r => JsonDocument.Parse(r.Message.Value).RootElement.GetProperty("id").GetString()!).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task An_api_key_plus_a_bearer_token_of_another_account_is_400_and_writes_nothing()
    {
        var (service, topic) = Service();
        await using var host = await KestrelIngestHost.StartAsync(service);
        using var client = host.Client();

        // The reported merge: a key for acct-a (ingest:write) and a usage:read token bound to acct-b wrote acct-b.
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events") { Content = IngestTestHost.Ndjson(Record("m1", "acct-b")) })
        {
            request.Headers.Add("X-Api-Key", "key-of-a");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiTestHost.Token("usage:read", account: "acct-b"));
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await Json(response);
            Assert.Equal("urn:metering:problem:ambiguous-credentials", problem.GetProperty("type").GetString());
            Assert.Contains("exactly one", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // Two API keys (Authorization: ApiKey and X-Api-Key), each valid alone.
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events") { Content = IngestTestHost.Ndjson(Record("m2", "acct-a") + "\n" + Record("m3", "acct-b")) })
        {
            request.Headers.Add("X-Api-Key", "key-of-a");
            request.Headers.Authorization = new AuthenticationHeaderValue("ApiKey", "key-of-b");
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        // Two X-Api-Key header lines (raw: HttpClient would join them into one).
        var body = Record("m4", "acct-a") + "\n";
        using (var raw = await host.ConnectAsync())
        {
            await raw.SendAsync($"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Api-Key: key-of-a\r\nX-Api-Key: key-of-b\r\nContent-Type: application/x-ndjson\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");
            var (status, _, text) = await raw.ReadResponseAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(400, status);
            Assert.Contains("ambiguous-credentials", text, StringComparison.Ordinal);
        }

        // A read endpoint too: one request, one credential.
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/v1/usage?account=acct-b&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z"))
        {
            request.Headers.Add("X-Api-Key", "key-of-a");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiTestHost.Token("usage:read", account: "acct-b"));
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        // Each credential alone still works.
        using (var response = await host.ApiKey("key-of-a").PostAsync("/v1/events", IngestTestHost.Ndjson(Record("ok1", "acct-a"))))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        using (var response = await host.Bearer("ingest:write", account: "acct-b").PostAsync("/v1/events", IngestTestHost.Ndjson(Record("ok2", "acct-b"))))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        Assert.Equal(["ok1", "ok2"], ConsumedIds(service, topic, 2));
    }

    [Fact]
    public async Task A_body_shorter_than_its_content_length_ends_as_400_not_500_and_produces_nothing()
    {
        var (service, topic) = Service();
        await using var host = await KestrelIngestHost.StartAsync(service);
        var complete = Record("s1", "acct-a") + "\n" + Record("s2", "acct-a") + "\n"; // whole records: producing them would show
        using (var raw = await host.ConnectAsync())
        {
            await raw.SendAsync($"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Api-Key: key-of-a\r\nContent-Type: application/x-ndjson\r\nContent-Length: {Encoding.UTF8.GetByteCount(complete) + 500}\r\n\r\n{complete}");
            raw.EndSending(); // the client stops 500 bytes short

            // Kestrel puts no answer on the wire after an unexpected end of the body (the client is gone); what the
            // server decided is the request's final status.
            var wire = await raw.ReadToEndAsync(TimeSpan.FromSeconds(30));
            Assert.DoesNotContain(" 500 ", wire, StringComparison.Ordinal);
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!host.Answered.Any(a => a.Path == "/v1/events") && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal([("/v1/events", 400)], host.Answered.Where(a => a.Path == "/v1/events").ToArray());
        Assert.Empty(ConsumedIds(service, topic, 0));
    }

    [Fact]
    public async Task A_body_trickled_slower_than_the_minimum_data_rate_is_408_and_produces_nothing()
    {
        var (service, topic) = Service();
        await using var host = await KestrelIngestHost.StartAsync(service);
        var complete = Record("t1", "acct-a") + "\n" + Record("t2", "acct-a") + "\n";
        using var raw = await host.ConnectAsync();
        await raw.SendAsync($"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Api-Key: key-of-a\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n{complete}");
        using var stop = new CancellationTokenSource();
        var trickle = Task.Run(async () =>
        {
            // About 10 bytes/s, far below any sane minimum rate, until the server gives up on the body.
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await raw.SendAsync(" ");
                    await Task.Delay(100, stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
            {
                // The server closed the connection, or the test is done.
            }
        });
        var (status, headers, body) = await raw.ReadResponseAsync(TimeSpan.FromSeconds(60));
        await stop.CancelAsync();
        await trickle;
        Assert.Equal(408, status);
        Assert.Contains("application/problem+json", headers, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("urn:metering:problem:body-timeout", body, StringComparison.Ordinal);
        Assert.Empty(ConsumedIds(service, topic, 0));
    }

    [Fact]
    public async Task A_redis_that_does_not_answer_in_time_makes_lookups_not_seen_instead_of_holding_the_request()
    {
        var (service, topic) = Service(withRedis: true);
        await using var host = await KestrelIngestHost.StartAsync(service);
        using var client = host.ApiKey("key-of-a");
        using (var first = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("p1", "acct-a"))))
        {
            Assert.Equal(["accepted"], Statuses(await Json(first)));
        }

        using (var again = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("p1", "acct-a"))))
        {
            Assert.Equal(["duplicate"], Statuses(await Json(again))); // Redis answers: p1 is known
        }

        // A real Redis that stops answering for 1.5 s (longer than the lookup timeout, shorter than the client's own
        // 2 s timeout): a lookup that waited would find p1 and call it duplicate.
        using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Endpoint + ",allowAdmin=true");
        await admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", "1500", "ALL");
        using (var paused = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("p1", "acct-a") + "\n" + Record("p2", "acct-a"))))
        {
            Assert.Equal(HttpStatusCode.Accepted, paused.StatusCode);
            Assert.Equal(["accepted", "accepted"], Statuses(await Json(paused))); // not seen: the engine's dedup is the guard
            Assert.True(service.DedupDegraded);
        }

        await Task.Delay(1600); // the pause is over
        using (var after = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("p3", "acct-a"))))
        {
            Assert.Equal(["accepted"], Statuses(await Json(after)));
            Assert.False(service.DedupDegraded);
        }

        Assert.Equal(["p1", "p1", "p2", "p3"], ConsumedIds(service, topic, 4));
    }
}
