using System.Net;
using System.Text;
using System.Text.Json;
using Metering.DevKit.Kafka;
using Metering.Ingest.CloudEvents;
using Metering.Tests.Ingest;
using Metering.Web.HttpIngest;

namespace Metering.Tests.CloudEvents;

/// <summary>POST /v1/events with CloudEvents (structured and batch mode) against a real embedded Kafka cluster.</summary>
public sealed class CloudEventHttpTests : IDisposable
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

    private (HttpIngestService Service, string Topic) Service()
    {
        var topic = "ce-http-" + Guid.NewGuid().ToString("N")[..8];
        _kafka.CreateTopic(topic, Partitions);
        var service = new HttpIngestService(new HttpIngestOptions { BootstrapServers = _kafka.BootstrapServers, Topic = topic, DeliveryTimeout = TimeSpan.FromSeconds(10) });
        _owned.Add(service);
        return (service, topic);
    }

    internal static HttpContent Structured(string body) => new StringContent(body, Encoding.UTF8, CloudEventDecoder.StructuredMediaType);

    internal static HttpContent Batch(params string[] events) => new StringContent("[\n" + string.Join(",\n", events) + "\n]", Encoding.UTF8, CloudEventDecoder.BatchMediaType);

    internal static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }

    internal static string[] Column(JsonElement body, string name) =>
        [.. body.GetProperty("receipts").EnumerateArray().Select(r => r.TryGetProperty(name, out var v) ? v.GetString()! : "-")];

    [Fact]
    public async Task A_structured_event_is_accepted_and_its_mapped_record_reaches_kafka()
    {
        var (service, topic) = Service();
        await using var host = await IngestTestHost.StartAsync(service, CloudEventSamples.Mapping());
        var pretty = JsonSerializer.Serialize(JsonDocument.Parse(CloudEventSamples.Egress("s-1", "acct-1", "1536.5")).RootElement, new JsonSerializerOptions { WriteIndented = true });

        using var response = await host.Bearer("ingest:write").PostAsync("/v1/events", Structured(pretty));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(["accepted"], Column(await Json(response), "status"));
        var record = Assert.Single(IngestTestHost.ConsumeAll(service.Options.BootstrapServers, topic, Partitions, 1, TimeSpan.FromSeconds(20)));
        using var native = JsonDocument.Parse(record.Message.Value);
        Assert.Equal("acct-1", record.Message.Key);
        Assert.Equal(CloudEventIds.Of("/edge/fra1", "s-1"), native.RootElement.GetProperty("id").GetString());
        Assert.Equal("cdn.egress.bytes", native.RootElement.GetProperty("sku").GetString());
        Assert.Equal("1536.5", native.RootElement.GetProperty("quantity").GetRawText());
        Assert.Equal("eu", native.RootElement.GetProperty("dimensions").GetProperty("region").GetString());
    }

    [Fact]
    public async Task A_batch_gets_one_receipt_per_event_in_order_with_the_reason_of_each_rejection()
    {
        var (service, topic) = Service();
        await using var host = await IngestTestHost.StartAsync(service, CloudEventSamples.Mapping());
        using var response = await host.Bearer("ingest:write").PostAsync("/v1/events", Batch(
            CloudEventSamples.Egress("b-1", "acct-1", "100"),
            CloudEventSamples.ApiCall("b-2", "acct-2", "3"),
            CloudEventSamples.Egress("b-1", "acct-1", "100"),                          // same source + id: duplicate
            CloudEventSamples.Egress("b-1", "acct-1", "100", source: "/edge/ams1"),    // same id, other source: another event
            CloudEventSamples.Egress("b-3", "acct-1", "\"1.0000000001\""),             // not an exact 9-digit decimal
            CloudEventSamples.ApiCall("b-4", "acct-2", "3").Replace("\"count\":3", "\"n\":3", StringComparison.Ordinal),
            CloudEventSamples.Egress("b-5", "acct-1", "1").Replace("com.example.cdn.egress", "com.example.unknown", StringComparison.Ordinal),
            CloudEventSamples.Egress("b-6", "acct-1", "1").Replace("\"specversion\":\"1.0\"", "\"specversion\":\"0.3\"", StringComparison.Ordinal),
            "{\"specversion\":\"1.0\",\"id\":nope}"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await Json(response);
        Assert.Equal(["accepted", "accepted", "duplicate", "accepted", "rejected", "rejected", "rejected", "rejected", "rejected"], Column(body, "status"));
        Assert.Equal(["-", "-", "-", "-", "quantity_precision", "missing_field", "unmapped_event_type", "invalid_cloudevent", "malformed_json"], Column(body, "reason"));
        Assert.Contains("CloudEvent 'b-4' from '/api': the quantity is mapped from data at $.count", Column(body, "detail")[5], StringComparison.Ordinal);
        Assert.Equal((9, 3, 1, 5), (body.GetProperty("records").GetInt32(), body.GetProperty("accepted").GetInt32(), body.GetProperty("duplicate").GetInt32(), body.GetProperty("rejected").GetInt32()));
        var produced = IngestTestHost.ConsumeAll(service.Options.BootstrapServers, topic, Partitions, 3, TimeSpan.FromSeconds(20));
        Assert.Equal(3, produced.Count);
        Assert.Equal(
            new[] { CloudEventIds.Of("/api", "b-2"), CloudEventIds.Of("/edge/ams1", "b-1"), CloudEventIds.Of("/edge/fra1", "b-1") }.Order(StringComparer.Ordinal),
            produced.Select(r => JsonDocument.Parse(r.Message.Value).RootElement.GetProperty("id").GetString()!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task CloudEvents_need_the_ingest_scope_like_native_records()
    {
        var (service, _) = Service();
        await using var host = await IngestTestHost.StartAsync(service, CloudEventSamples.Mapping());

        using var readOnly = await host.Bearer("usage:read").PostAsync("/v1/events", Structured(CloudEventSamples.Egress("a-1", "acct-1", "1")));
        using var anonymous = await host.Anonymous().PostAsync("/v1/events", Structured(CloudEventSamples.Egress("a-1", "acct-1", "1")));
        using var foreign = await host.Bearer("ingest:write", account: "acct-2").PostAsync("/v1/events", Structured(CloudEventSamples.Egress("a-1", "acct-1", "1")));

        Assert.Equal(HttpStatusCode.Forbidden, readOnly.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        Assert.Equal(["account_not_allowed"], Column(await Json(foreign), "reason"));
    }

    [Fact]
    public async Task Without_a_mapping_cloudevents_are_refused_with_415_naming_the_option()
    {
        var (service, _) = Service();
        await using var host = await IngestTestHost.StartAsync(service);

        using var response = await host.Bearer("ingest:write").PostAsync("/v1/events", Batch(CloudEventSamples.Egress("n-1", "acct-1", "1")));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("--event-mapping", (await Json(response)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_structured_body_holding_two_events_is_refused_and_nothing_is_produced()
    {
        var (service, topic) = Service();
        await using var host = await IngestTestHost.StartAsync(service, CloudEventSamples.Mapping());
        using var client = host.Bearer("ingest:write");

        using var listed = await client.PostAsync("/v1/events", Structured(CloudEventSamples.Egress("t-1", "acct-1", "1") + ",\n" + CloudEventSamples.Egress("t-2", "acct-1", "1")));
        using var concatenated = await client.PostAsync("/v1/events", Structured(CloudEventSamples.Egress("t-3", "acct-1", "1") + "\n" + CloudEventSamples.Egress("t-4", "acct-1", "1")));

        Assert.Equal(HttpStatusCode.BadRequest, listed.StatusCode);
        Assert.Contains("is one event, this one holds 2", (await Json(listed)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        // Two objects without a comma are one value that is not JSON: its receipt says so, as for a native body.
        Assert.Equal(HttpStatusCode.Accepted, concatenated.StatusCode);
        Assert.Equal(["malformed_json"], Column(await Json(concatenated), "reason"));
        Assert.Empty(IngestTestHost.ConsumeAll(service.Options.BootstrapServers, topic, Partitions, 1, TimeSpan.FromSeconds(3)));
    }
}
