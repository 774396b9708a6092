using System.Text;
using Metering.Ingest.CloudEvents;

namespace Metering.Tests.CloudEvents;

/// <summary>The mapping and events the CloudEvents integration tests send.</summary>
internal static class CloudEventSamples
{
    // One instant for a test run: a resent event must carry the same time, or it is a conflict, not a duplicate.
    public static readonly string Time = DateTime.UtcNow.AddMinutes(-2).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public static EventMapping Mapping()
    {
        var (mapping, errors) = EventMapping.Validate(Encoding.UTF8.GetBytes("""
            {"types": {
              "com.example.cdn.egress": {"sku": "cdn.egress.bytes", "account": "subject", "quantity": "$.bytes", "dimensions": {"region": "$.region"}},
              "com.example.api.call":   {"sku": "api.calls", "account": "$.customer.id", "quantity": "$.count"}
            }}
            """));
        return mapping ?? throw new InvalidOperationException(string.Join("; ", errors));
    }

    public static string Egress(string id, string account, string bytes, string source = "/edge/fra1") =>
        $$$"""{"specversion":"1.0","type":"com.example.cdn.egress","source":"{{{source}}}","id":"{{{id}}}","subject":"{{{account}}}","time":"{{{Time}}}","datacontenttype":"application/json","data":{"bytes":{{{bytes}}},"region":"eu"}}""";

    public static string ApiCall(string id, string account, string count) =>
        $$$"""{"specversion":"1.0","type":"com.example.api.call","source":"/api","id":"{{{id}}}","time":"{{{Time}}}","comexampletrace":"t-1","data":{"customer":{"id":"{{{account}}}"},"count":{{{count}}}}}""";
}
