using System.Net;
using System.Text;
using System.Text.Json;
using Metering.DevKit.Kafka;
using Metering.Web.HttpIngest;
using Metering.Tests.Redis;

namespace Metering.Tests.Ingest;

/// <summary>POST /v1/events against a real embedded Kafka cluster and a real Redis.</summary>
public sealed class HttpIngestTests(RedisFixture redis) : IClassFixture<RedisFixture>, IDisposable
{
    private const int Partitions = 4;
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

    private static string Record(string id, string account, string quantity = "1.5") =>
        $$$"""{"id":"{{{id}}}","account":"{{{account}}}","sku":"api.calls","quantity":"{{{quantity}}}","time":"{{{Now}}}","dimensions":{"region":"eu"}}""";

    private (HttpIngestService Service, string Topic) Service(bool withRedis = false, ApiKeyStore? keys = null, Func<HttpIngestOptions, HttpIngestOptions>? tune = null)
    {
        var topic = "usage-" + Guid.NewGuid().ToString("N")[..8];
        _kafka.CreateTopic(topic, Partitions);
        var options = new HttpIngestOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, DeliveryTimeout = TimeSpan.FromSeconds(10) };
        options = tune?.Invoke(options) ?? options;
        var mux = withRedis ? redis.Connect() : null;
        if (mux is not null)
        {
            _owned.Add(mux);
        }

        var service = new HttpIngestService(options, mux, keys);
        _owned.Add(service);
        return (service, topic);
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }

    private static string[] Statuses(JsonElement body) => [.. body.GetProperty("receipts").EnumerateArray().Select(r => r.GetProperty("status").GetString()!)];

    private static string[] Reasons(JsonElement body) => [.. body.GetProperty("receipts").EnumerateArray().Select(r => r.TryGetProperty("reason", out var v) ? v.GetString()! : "-")];

    private static string MixedNdjson() => string.Join("\n",
        Record("e1", "acct-1"),
        "{\"id\":nope}",                         // balanced, so an array can still frame it; malformed JSON
        Record("e2", "acct-2"),
        "",
        Record("e1", "acct-1", "1.50"),          // same account, id and payload (1.50 = 1.5) as index 0: duplicate
        Record("e1", "acct-2"),                  // same id, other account: a different record
        """{"id":"e3","account":"acct-1","sku":"api.calls","quantity":"-1","time":"2026-01-01T00:00:00Z"}""",
        Record("e4", "acct-3")) + "\n";

    private static readonly string[] MixedStatuses = ["accepted", "rejected", "accepted", "duplicate", "accepted", "rejected", "accepted"];
    private static readonly string[] MixedReasons = ["-", "malformed_json", "-", "-", "-", "negative_quantity", "-"];

    private static void AssertConsumed(string bootstrap, string topic, params (string Account, string Id)[] expected)
    {
        var consumed = IngestTestHost.ConsumeAll(bootstrap, topic, Partitions, expected.Length, TimeSpan.FromSeconds(20));
        var got = consumed.Select(r =>
        {
            Assert.DoesNotContain('\n', r.Message.Value);
            using var doc = JsonDocument.Parse(r.Message.Value);
            var account = doc.RootElement.GetProperty("account").GetString()!;
            Assert.Equal(account, r.Message.Key); // keyed by account
            return (account, doc.RootElement.GetProperty("id").GetString()!);
        }).OrderBy(x => x.account).ThenBy(x => x.Item2).ToArray();
        Assert.Equal(expected.OrderBy(x => x.Account).ThenBy(x => x.Id).ToArray(), got);
    }

    [Fact]
    public async Task Ndjson_body_gets_receipts_and_exactly_the_accepted_records_reach_kafka_keyed_by_account()
    {
        var (service, topic) = Service();
        await using var host = await IngestTestHost.StartAsync(service);
        using var response = await host.Bearer("ingest:write").PostAsync("/v1/events", IngestTestHost.Ndjson(MixedNdjson()));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await Json(response);
        Assert.Equal(MixedStatuses, Statuses(body));
        Assert.Equal(MixedReasons, Reasons(body));
        Assert.Equal(7, body.GetProperty("records").GetInt32());
        Assert.Equal(4, body.GetProperty("accepted").GetInt32());
        Assert.Equal(1, body.GetProperty("duplicate").GetInt32());
        Assert.Equal(2, body.GetProperty("rejected").GetInt32());
        AssertConsumed(service.Options.BootstrapServers, topic, ("acct-1", "e1"), ("acct-2", "e2"), ("acct-2", "e1"), ("acct-3", "e4"));
    }

    [Fact]
    public async Task Json_array_body_gets_the_same_receipts_and_records_go_to_kafka_on_one_line()
    {
        var (service, topic) = Service();
        await using var host = await IngestTestHost.StartAsync(service);
        var records = MixedNdjson().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // Pretty-printed elements: line breaks between tokens must not reach Kafka.
        var array = "[\n  " + string.Join(",\n  ", records.Select(r => r.Replace(",\"sku\"", ",\n    \"sku\"", StringComparison.Ordinal))) + "\n]";
        using var response = await host.Bearer("admin").PostAsync("/v1/events", IngestTestHost.JsonArray(array));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await Json(response);
        Assert.Equal(MixedStatuses, Statuses(body));
        Assert.Equal(MixedReasons, Reasons(body));
        AssertConsumed(service.Options.BootstrapServers, topic, ("acct-1", "e1"), ("acct-2", "e2"), ("acct-2", "e1"), ("acct-3", "e4"));
    }

    [Fact]
    public async Task A_body_arriving_a_few_bytes_at_a_time_parses_the_same()
    {
        var (service, topic) = Service();
        await using var host = await IngestTestHost.StartAsync(service);
        var content = new StreamContent(new TrickleStream(Encoding.UTF8.GetBytes(MixedNdjson()), 3));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-ndjson");
        using var response = await host.Bearer("ingest:write").PostAsync("/v1/events", content);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await Json(response);
        Assert.Equal(MixedStatuses, Statuses(body));
        Assert.Equal(MixedReasons, Reasons(body));
        AssertConsumed(service.Options.BootstrapServers, topic, ("acct-1", "e1"), ("acct-2", "e2"), ("acct-2", "e1"), ("acct-3", "e4"));
    }

    [Fact]
    public async Task With_redis_a_record_sent_again_in_a_later_request_is_a_duplicate_and_not_produced_twice()
    {
        var (service, topic) = Service(withRedis: true);
        await using var host = await IngestTestHost.StartAsync(service);
        using var client = host.Bearer("ingest:write");
        using var first = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("r1", "acct-1") + "\n" + Record("r2", "acct-1")));
        Assert.Equal(["accepted", "accepted"], Statuses(await Json(first)));
        using var second = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("r2", "acct-1") + "\n" + Record("r3", "acct-1")));
        var body = await Json(second);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.Equal(["duplicate", "accepted"], Statuses(body));
        Assert.Equal(1, body.GetProperty("duplicate").GetInt32());
        AssertConsumed(service.Options.BootstrapServers, topic, ("acct-1", "r1"), ("acct-1", "r2"), ("acct-1", "r3"));
    }

    [Fact]
    public async Task The_edge_marks_its_own_redis_keys_only_after_kafka_acked_and_treats_ids_the_engine_counted_as_duplicates()
    {
        var (service, topic) = Service(withRedis: true);
        await using var host = await IngestTestHost.StartAsync(service);
        using var mux = redis.Connect();
        // The engine counted e-counted before (its shared horizon, as StreamingEngine marks it after its commit).
        var probe = service.NewAdmission();
        Assert.Equal(Metering.Aggregates.Records.RejectReason.None, probe.Admit(Encoding.UTF8.GetBytes(Record("e-counted", "acct-1")), out var counted, out _));
        await new Metering.Redis.RedisDedup(mux, $"metering:{topic}:", TimeSpan.FromHours(1)).MarkAsync([new Metering.Aggregates.Dedup.SeenId(counted.Fingerprint, counted.PayloadDigest, counted.TimeTicks)]);

        using var response = await host.Bearer("ingest:write").PostAsync("/v1/events", IngestTestHost.Ndjson(Record("e-counted", "acct-1") + "\n" + Record("e-new", "acct-1")));
        Assert.Equal(["duplicate", "accepted"], Statuses(await Json(response)));
        var server = mux.GetServer(redis.Endpoint);
        var edgeKeys = server.Keys(pattern: $"metering:{topic}:edge:p:*").Count();
        var engineKeys = server.Keys(pattern: $"metering:{topic}:p:*").Count();
        Assert.Equal(1, edgeKeys);   // e-new, after its ack
        Assert.Equal(1, engineKeys); // only the engine's own mark: the edge never writes the engine's keys
        AssertConsumed(service.Options.BootstrapServers, topic, ("acct-1", "e-new"));
    }

    [Fact]
    public async Task With_redis_down_records_are_still_accepted_and_the_engine_is_left_as_the_guard()
    {
        var (service, topic) = Service(withRedis: true);
        await using var host = await IngestTestHost.StartAsync(service);
        await redis.KillAsync();
        try
        {
            using var response = await host.Bearer("ingest:write").PostAsync("/v1/events", IngestTestHost.Ndjson(Record("rd1", "acct-1")));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            Assert.Equal(["accepted"], Statuses(await Json(response)));
            Assert.True(service.DedupDegraded);
        }
        finally
        {
            await redis.StartAsync();
        }

        AssertConsumed(service.Options.BootstrapServers, topic, ("acct-1", "rd1"));
    }

    [Fact]
    public async Task A_full_in_flight_queue_answers_429_with_retry_after_and_produces_nothing()
    {
        var (service, topic) = Service(tune: o => o with { MaxRecords = 5, MaxInflightRecords = 5, RetryAfterSeconds = 2 });
        await using var host = await IngestTestHost.StartAsync(service);
        using var client = host.Bearer("ingest:write");
        Assert.True(service.TryReserve(4)); // as if other requests were waiting for Kafka
        using (var response = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("q1", "acct-1") + "\n" + Record("q2", "acct-1"))))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(TimeSpan.FromSeconds(2), response.Headers.RetryAfter?.Delta);
        }

        service.Release(4);
        using (var response = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(Record("q3", "acct-1"))))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        Assert.Equal(0, service.Inflight);
        AssertConsumed(service.Options.BootstrapServers, topic, ("acct-1", "q3"));
    }

    [Fact]
    public async Task Bodies_over_the_limits_answer_413_and_produce_nothing_while_an_oversize_record_is_only_rejected()
    {
        var (service, topic) = Service(tune: o => o with { MaxBodyBytes = 4096, MaxRecords = 3, Decoder = o.Decoder with { MaxLineBytes = 256 } });
        await using var host = await IngestTestHost.StartAsync(service);
        using var client = host.Bearer("ingest:write");
        var big = string.Join("\n", Enumerable.Range(0, 30).Select(i => Record("b" + i, "acct-1")));
        using (var response = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(big)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        // Without Content-Length (chunked): counted as it arrives.
        var chunked = new StreamContent(new TrickleStream(Encoding.UTF8.GetBytes(big), 512));
        chunked.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-ndjson");
        using (var response = await client.PostAsync("/v1/events", chunked))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }

        var four = string.Join("\n", Enumerable.Range(0, 4).Select(i => Record("c" + i, "acct-1")));
        using (var response = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(four)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            Assert.Contains("more than 3 records", (await Json(response)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var oversize = Record("d1", "acct-1") + "\n" + Record("d2", "acct-1", "1" + new string('0', 300));
        using (var response = await client.PostAsync("/v1/events", IngestTestHost.Ndjson(oversize)))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var body = await Json(response);
            Assert.Equal(["accepted", "rejected"], Statuses(body));
            Assert.Equal(["-", "line_too_long"], Reasons(body));
        }

        AssertConsumed(service.Options.BootstrapServers, topic, ("acct-1", "d1"));
    }

    [Fact]
    public async Task Auth_needs_ingest_write_or_an_api_key_and_restricted_credentials_write_only_their_accounts()
    {
        var keys = new ApiKeyStore([
            new ApiKey("edge-eu", Convert.FromHexString(ApiKeyStore.Hash("secret-eu-key")), ["acct-1"]),
            new ApiKey("edge-all", Convert.FromHexString(ApiKeyStore.Hash("secret-all-key")), null),
        ]);
        var (service, topic) = Service(keys: keys);
        await using var host = await IngestTestHost.StartAsync(service);
        var one = Record("a1", "acct-1");
        var two = Record("a2", "acct-2");

        using (var r = await host.Anonymous().PostAsync("/v1/events", IngestTestHost.Ndjson(one)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
            Assert.Contains("API key", (await Json(r)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        using (var r = await host.ApiKey("wrong-key").PostAsync("/v1/events", IngestTestHost.Ndjson(one)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.Contains("API key", (await Json(r)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        using (var r = await host.Bearer("usage:read billing:read").PostAsync("/v1/events", IngestTestHost.Ndjson(one)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
            Assert.Contains("ingest:write", (await Json(r)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        using (var r = await host.ApiKey("secret-eu-key").PostAsync("/v1/events", IngestTestHost.Ndjson(two)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
            Assert.Equal(["account_not_allowed"], Reasons(await Json(r)));
        }

        using (var r = await host.ApiKey("secret-eu-key", header: true).PostAsync("/v1/events", IngestTestHost.Ndjson(one + "\n" + two)))
        {
            Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
            Assert.Equal(["-", "account_not_allowed"], Reasons(await Json(r)));
        }

        using (var r = await host.Bearer("ingest:write", account: "acct-2").PostAsync("/v1/events", IngestTestHost.Ndjson(Record("a3", "acct-1") + "\n" + Record("a4", "acct-2"))))
        {
            Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
            Assert.Equal(["rejected", "accepted"], Statuses(await Json(r)));
        }

        using (var r = await host.ApiKey("secret-all-key").PostAsync("/v1/events", IngestTestHost.Ndjson(Record("a5", "acct-9"))))
        {
            Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        }

        AssertConsumed(service.Options.BootstrapServers, topic, ("acct-1", "a1"), ("acct-2", "a4"), ("acct-9", "a5"));
    }

    [Fact]
    public async Task Wrong_media_type_and_malformed_arrays_are_answered_as_problems()
    {
        var (service, _) = Service();
        await using var host = await IngestTestHost.StartAsync(service);
        using var client = host.Bearer("ingest:write");
        using (var r = await client.PostAsync("/v1/events", new StringContent(Record("m1", "acct-1"), Encoding.UTF8, "text/plain")))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, r.StatusCode);
        }

        using (var r = await client.PostAsync("/v1/events", IngestTestHost.JsonArray("[" + Record("m1", "acct-1"))))
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Contains("not closed", (await Json(r)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task When_kafka_does_not_acknowledge_the_receipts_say_kafka_unavailable_and_the_answer_is_503()
    {
        var (service, _) = Service(tune: o => o with { DeliveryTimeout = TimeSpan.FromSeconds(2) });
        await using var host = await IngestTestHost.StartAsync(service);
        _kafka.SetBrokerDown(1);
        using var r = await host.Bearer("ingest:write").PostAsync("/v1/events", IngestTestHost.Ndjson(Record("k1", "acct-1") + "\n" + Record("k2", "acct-2")));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
        var body = await Json(r);
        Assert.Equal(["kafka_unavailable", "kafka_unavailable"], Reasons(body));
        Assert.Equal(0, body.GetProperty("accepted").GetInt32());
        Assert.Equal(0, service.Inflight);
    }

    /// <summary>A read-only stream that hands out at most <c>chunk</c> bytes per read, with an await between reads.</summary>
    private sealed class TrickleStream(byte[] data, int chunk) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(chunk, count), data.Length - _position);
            Array.Copy(data, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            var n = Math.Min(Math.Min(chunk, buffer.Length), data.Length - _position);
            data.AsMemory(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
