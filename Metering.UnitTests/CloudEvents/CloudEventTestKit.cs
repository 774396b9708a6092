using System.Text;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using Metering.Ingest.CloudEvents;
using Metering.UnitTests.Decoding;

namespace Metering.UnitTests.CloudEvents;

internal static class CloudEventTestKit
{
    public const string MappingJson = """
        {"types": {
          "com.example.cdn.egress": {"sku": "cdn.egress.bytes", "account": "subject", "quantity": "$.bytes",
                                     "dimensions": {"region": "$.pop.region", "origin": "source", "tier": "tier"}},
          "com.example.someevent":  {"sku": "app.events", "account": "comexampleextension1", "quantity": "$.appinfoB"}
        }}
        """;

    public static EventMapping Mapping(string json = MappingJson)
    {
        var (mapping, errors) = EventMapping.Validate(Encoding.UTF8.GetBytes(json));
        return mapping ?? throw new InvalidOperationException(string.Join("; ", errors));
    }

    /// <summary>A structured event through the decoder and then the one admission rule, as the edge and the engine do.</summary>
    public static (RejectReason Reason, UsageRecord Record, string Detail, RecordCatalog Catalog, string Native) Admit(string structured, EventMapping? mapping = null)
    {
        var decoder = new CloudEventDecoder(mapping ?? Mapping());
        var reason = decoder.Structured(Encoding.UTF8.GetBytes(structured), out var native, out var detail);
        return Admitted(reason, native, detail);
    }

    public static (RejectReason Reason, UsageRecord Record, string Detail, RecordCatalog Catalog, string Native) Admitted(RejectReason reason, ReadOnlyMemory<byte> native, string detail)
    {
        var catalog = new RecordCatalog(DimensionPolicy.Parse("cdn.egress.bytes=region,origin,tier"));
        if (reason != RejectReason.None)
        {
            return (reason, default, detail, catalog, "");
        }

        var admission = new RecordAdmission(catalog, new AdmissionOptions { Decoder = DecoderTestKit.Options() });
        var admitted = admission.Admit(native.Span, out var record, out detail);
        return (admitted, record, detail, catalog, Encoding.UTF8.GetString(native.Span));
    }

    public static string Egress(string time = "\"2026-11-24T11:00:00Z\"", string bytes = "1536", string id = "e-1", string source = "/edge/fra1", string extra = "") =>
        $$$"""{"specversion":"1.0","type":"com.example.cdn.egress","source":"{{{source}}}","id":"{{{id}}}","subject":"acct-42","time":{{{time}}},"tier":"gold","datacontenttype":"application/json","data":{"bytes":{{{bytes}}},"pop":{"region":"eu"}}{{{extra}}}}""";
}
