using System.Text;
using Confluent.Kafka;
using Metering.Aggregates.Records;
using Metering.Ingest.CloudEvents;

namespace Metering.UnitTests.CloudEvents;

public class CloudEventTranslationTests
{
    // The JSON event format specification's own example (CloudEvents 1.0, json-format.md), time moved into the engine's
    // accepted range.
    private const string SpecExample = """
        {
            "specversion" : "1.0",
            "type" : "com.example.someevent",
            "source" : "/mycontext",
            "id" : "A234-1234-1234",
            "time" : "2026-11-24T11:31:00Z",
            "comexampleextension1" : "value",
            "comexampleothervalue" : 5,
            "datacontenttype" : "application/json",
            "data" : { "appinfoA" : "abc", "appinfoB" : 123, "appinfoC" : true }
        }
        """;

    [Fact]
    public void The_spec_example_becomes_a_usage_record_with_the_account_from_an_extension_attribute()
    {
        var (reason, record, detail, catalog, native) = CloudEventTestKit.Admit(SpecExample);

        Assert.True(reason == RejectReason.None, detail);
        Assert.Equal("value", catalog.Accounts.GetString(record.AccountId));
        Assert.Equal("app.events", catalog.Skus.GetString(record.SkuId));
        Assert.Equal(123_000_000_000L, record.QuantityNanos);
        Assert.Equal(new DateTime(2026, 11, 24, 11, 31, 0, DateTimeKind.Utc).Ticks, record.TimeTicks);
        Assert.Contains("\"id\":\"" + CloudEventIds.Of("/mycontext", "A234-1234-1234") + "\"", native, StringComparison.Ordinal);
    }

    [Fact]
    public void Account_quantity_and_dimensions_come_from_subject_source_extensions_and_data_paths()
    {
        var (reason, record, detail, catalog, native) = CloudEventTestKit.Admit(CloudEventTestKit.Egress(bytes: "\"1536.25\""));

        Assert.True(reason == RejectReason.None, detail);
        Assert.Equal("acct-42", catalog.Accounts.GetString(record.AccountId));
        Assert.Equal(1_536_250_000_000L, record.QuantityNanos);
        Assert.Equal("origin=/edge/fra1\u001Fregion=eu\u001Ftier=gold", catalog.DimensionSets.GetString(record.DimensionSetId));
        Assert.Contains("\"dimensions\":{\"region\":\"eu\",\"origin\":\"/edge/fra1\",\"tier\":\"gold\"}", native, StringComparison.Ordinal);
    }

    [Fact]
    public void A_numeric_quantity_keeps_its_own_digits_exactly()
    {
        var (reason, record, detail, _, _) = CloudEventTestKit.Admit(CloudEventTestKit.Egress(bytes: "0.1"));

        Assert.True(reason == RejectReason.None, detail);
        Assert.Equal(100_000_000L, record.QuantityNanos);
    }

    [Theory]
    [InlineData("\"0.0000000001\"", RejectReason.QuantityPrecision)]
    [InlineData("-1", RejectReason.NegativeQuantity)]
    [InlineData("\"lots\"", RejectReason.InvalidQuantity)]
    [InlineData("1e400", RejectReason.QuantityTooLarge)]
    [InlineData("true", RejectReason.InvalidQuantity)]
    [InlineData("{\"n\":1}", RejectReason.InvalidQuantity)]
    [InlineData("null", RejectReason.InvalidQuantity)]
    public void A_quantity_that_is_not_an_exact_decimal_is_rejected_by_the_native_rules(string bytes, RejectReason expected)
    {
        var (reason, _, detail, _, _) = CloudEventTestKit.Admit(CloudEventTestKit.Egress(bytes: bytes));

        Assert.Equal(expected, reason);
        Assert.NotEmpty(detail);
    }

    [Fact]
    public void A_missing_quantity_path_is_rejected_naming_the_path_and_the_event()
    {
        var ev = """{"specversion":"1.0","type":"com.example.cdn.egress","source":"/s","id":"x-1","subject":"acct-1","time":"2026-11-24T11:00:00Z","data":{"pop":{}}}""";

        var (reason, _, detail, _, _) = CloudEventTestKit.Admit(ev);

        Assert.Equal(RejectReason.MissingField, reason);
        Assert.Equal("CloudEvent 'x-1' from '/s': the quantity is mapped from data at $.bytes, which the event does not have", detail);
    }

    [Fact]
    public void An_unmapped_type_is_rejected_as_unmapped_event_type()
    {
        var (reason, _, detail, _, _) = CloudEventTestKit.Admit(SpecExample.Replace("com.example.someevent", "com.example.unknown", StringComparison.Ordinal));

        Assert.Equal(RejectReason.UnmappedEventType, reason);
        Assert.Equal("unmapped_event_type", reason.Code());
        Assert.Contains("type 'com.example.unknown' is not in the event mapping", detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("specversion", "required attribute 'specversion' is missing")]
    [InlineData("id", "required attribute 'id' is missing or empty")]
    [InlineData("source", "required attribute 'source' is missing or empty")]
    [InlineData("type", "required attribute 'type' is missing or empty")]
    public void Each_required_attribute_must_be_present(string attribute, string expected)
    {
        var ev = System.Text.Json.Nodes.JsonNode.Parse(SpecExample)!.AsObject();
        ev.Remove(attribute);

        var (reason, _, detail, _, _) = CloudEventTestKit.Admit(ev.ToJsonString());

        Assert.Equal(RejectReason.InvalidCloudEvent, reason);
        Assert.Equal(expected, detail);
    }

    [Theory]
    [InlineData("\"0.3\"")]
    [InlineData("\"1.1\"")]
    [InlineData("\"2.0\"")]
    [InlineData("1.0")]
    public void Only_specversion_1_0_is_read(string version)
    {
        var (reason, _, detail, _, _) = CloudEventTestKit.Admit(SpecExample.Replace("\"specversion\" : \"1.0\"", "\"specversion\" : " + version, StringComparison.Ordinal));

        Assert.Equal(RejectReason.InvalidCloudEvent, reason);
        Assert.Contains("specversion", detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"Bad-Name\":\"x\"", "'Bad-Name' is not a valid attribute name")]
    [InlineData("\"ext\":{\"a\":1}", "extension attribute 'ext' must be a string, a number or a boolean")]
    [InlineData("\"subject\":5", "attribute 'subject' must be a string")]
    public void Attributes_follow_the_naming_and_type_rules(string member, string expected)
    {
        var ev = SpecExample.Replace("\"comexampleothervalue\" : 5", member, StringComparison.Ordinal);

        var (reason, _, detail, _, _) = CloudEventTestKit.Admit(ev);

        Assert.Equal(RejectReason.InvalidCloudEvent, reason);
        Assert.StartsWith(expected, detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"2026-11-24T12:31:00+01:00\"", RejectReason.None)]
    [InlineData("\"2026-11-24t11:31:00.123456789z\"", RejectReason.None)]
    [InlineData("\"2026-11-24 11:31\"", RejectReason.InvalidTime)]
    [InlineData("\"yesterday\"", RejectReason.InvalidTime)]
    [InlineData("\"2026-11-24T11:31:60Z\"", RejectReason.InvalidTime)]
    public void Time_is_rfc_3339_with_the_native_rules(string time, RejectReason expected)
    {
        var (reason, record, detail, _, _) = CloudEventTestKit.Admit(CloudEventTestKit.Egress(time: time));

        Assert.True(reason == expected, detail);
        if (expected == RejectReason.None)
        {
            Assert.Equal(new DateTime(2026, 11, 24, 11, 31, 0, DateTimeKind.Utc).Ticks, record.TimeTicks / TimeSpan.TicksPerMinute * TimeSpan.TicksPerMinute);
        }
    }

    [Fact]
    public void An_event_without_time_is_rejected_because_usage_is_metered_by_event_time()
    {
        var ev = System.Text.Json.Nodes.JsonNode.Parse(SpecExample)!.AsObject();
        ev.Remove("time");

        var (reason, _, detail, _, _) = CloudEventTestKit.Admit(ev.ToJsonString());

        Assert.Equal(RejectReason.MissingField, reason);
        Assert.Contains("no 'time' attribute", detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_data_base64_is_decoded_and_mapped_like_data()
    {
        var data = Convert.ToBase64String(Encoding.UTF8.GetBytes("""{"appinfoB": 7}"""));
        var ev = $$"""{"specversion":"1.0","type":"com.example.someevent","source":"/s","id":"b-1","time":"2026-11-24T11:00:00Z","comexampleextension1":"acct-7","datacontenttype":"application/json","data_base64":"{{data}}"}""";

        var (reason, record, detail, catalog, _) = CloudEventTestKit.Admit(ev);

        Assert.True(reason == RejectReason.None, detail);
        Assert.Equal("acct-7", catalog.Accounts.GetString(record.AccountId));
        Assert.Equal(7_000_000_000L, record.QuantityNanos);
    }

    [Fact]
    public void Binary_data_base64_cannot_be_reached_by_a_path_and_the_rejection_says_so()
    {
        // The spec's binary example: a Thrift payload is no JSON.
        var ev = """{"specversion":"1.0","type":"com.example.someevent","source":"/s","id":"b-2","time":"2026-11-24T11:00:00Z","comexampleextension1":"acct-7","datacontenttype":"application/vnd.apache.thrift.binary","data_base64":"AAECAw=="}""";

        var (reason, _, detail, _, _) = CloudEventTestKit.Admit(ev);

        Assert.Equal(RejectReason.MissingField, reason);
        Assert.Contains("content type 'application/vnd.apache.thrift.binary', not JSON", detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"data_base64\":\"not base64!\"", "data_base64 must be a base64 string")]
    [InlineData("\"data_base64\":\"e30=\",\"data\":{}", "an event carries 'data' or 'data_base64', not both")]
    public void Broken_data_base64_is_an_invalid_cloudevent(string members, string expected)
    {
        var ev = $$"""{"specversion":"1.0","type":"com.example.someevent","source":"/s","id":"b-3","time":"2026-11-24T11:00:00Z",{{members}}}""";

        var (reason, _, detail, _, _) = CloudEventTestKit.Admit(ev);

        Assert.Equal(RejectReason.InvalidCloudEvent, reason);
        Assert.Equal(expected, detail);
    }

    [Fact]
    public void The_dedup_id_is_source_and_id_so_equal_ids_of_two_sources_stay_apart()
    {
        var a = CloudEventTestKit.Admit(CloudEventTestKit.Egress(id: "e-1", source: "/edge/fra1")).Record;
        var again = CloudEventTestKit.Admit(CloudEventTestKit.Egress(id: "e-1", source: "/edge/fra1")).Record;
        var otherSource = CloudEventTestKit.Admit(CloudEventTestKit.Egress(id: "e-1", source: "/edge/ams1")).Record;

        Assert.Equal(a.Fingerprint, again.Fingerprint);
        Assert.NotEqual(a.Fingerprint, otherSource.Fingerprint);
        Assert.NotEqual(CloudEventIds.Of("a", "bc"), CloudEventIds.Of("ab", "c"));
        Assert.Matches("^ce:[0-9a-f]{32}$", CloudEventIds.Of("/edge/fra1", "e-1"));
    }

    [Fact]
    public void A_kafka_binary_mode_message_is_the_same_record_as_its_structured_form()
    {
        var headers = new Headers
        {
            { "ce_specversion", "1.0"u8.ToArray() },
            { "ce_id", "e-1"u8.ToArray() },
            { "ce_source", "/edge/fra1"u8.ToArray() },
            { "ce_type", "com.example.cdn.egress"u8.ToArray() },
            { "ce_subject", "acct-42"u8.ToArray() },
            { "ce_time", "2026-11-24T11:00:00Z"u8.ToArray() },
            { "ce_tier", "gold"u8.ToArray() },
            { "content-type", "application/json"u8.ToArray() },
            { "traceparent", "00-abc-def-01"u8.ToArray() },
        };
        var decoder = new CloudEventDecoder(CloudEventTestKit.Mapping());

        var mode = CloudEventDecoder.ModeOf(headers);
        var reason = decoder.Kafka(mode, headers, """{"bytes":1536,"pop":{"region":"eu"}}"""u8, out var native, out var detail);
        var binary = CloudEventTestKit.Admitted(reason, native, detail);
        var structured = CloudEventTestKit.Admit(CloudEventTestKit.Egress());

        Assert.Equal(KafkaContentMode.Binary, mode);
        Assert.True(binary.Reason == RejectReason.None, binary.Detail);
        Assert.Equal(structured.Native, binary.Native);
    }

    [Fact]
    public void Kafka_messages_are_classified_by_their_headers()
    {
        Assert.Equal(KafkaContentMode.Native, CloudEventDecoder.ModeOf(null));
        Assert.Equal(KafkaContentMode.Native, CloudEventDecoder.ModeOf([]));
        Assert.Equal(KafkaContentMode.Native, CloudEventDecoder.ModeOf(new Headers { { "content-type", "application/json"u8.ToArray() } }));
        Assert.Equal(KafkaContentMode.Structured, CloudEventDecoder.ModeOf(new Headers { { "content-type", "application/cloudevents+json; charset=utf-8"u8.ToArray() } }));
        Assert.Equal(KafkaContentMode.Batch, CloudEventDecoder.ModeOf(new Headers { { "Content-Type", "application/cloudevents-batch+json"u8.ToArray() } }));
    }

    [Fact]
    public void Binary_mode_data_that_is_not_json_is_rejected_as_malformed()
    {
        var headers = new Headers
        {
            { "ce_specversion", "1.0"u8.ToArray() },
            { "ce_id", "e-1"u8.ToArray() },
            { "ce_source", "/s"u8.ToArray() },
            { "ce_type", "com.example.cdn.egress"u8.ToArray() },
        };

        var reason = new CloudEventDecoder(CloudEventTestKit.Mapping()).Kafka(KafkaContentMode.Binary, headers, "{bytes:1}"u8, out _, out var detail);

        Assert.Equal(RejectReason.MalformedJson, reason);
        Assert.Contains("is not JSON", detail, StringComparison.Ordinal);
    }
}
