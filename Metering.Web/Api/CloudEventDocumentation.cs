using Metering.Ingest.CloudEvents;
using Microsoft.OpenApi;

namespace Metering.Web.Api;

/// <summary>
/// The CloudEvents request bodies of <c>POST /v1/events</c> in the OpenAPI document: the endpoint's one body type is
/// the native record, so the two CloudEvents media types get the CloudEvents 1.0 event (structured) and an array of
/// them (batch) instead.
/// </summary>
internal static class CloudEventDocumentation
{
    public static void Describe(OpenApiOperation operation)
    {
        if (operation.OperationId != "IngestEvents" || operation.RequestBody?.Content is not { } content)
        {
            return;
        }

        if (content.TryGetValue(CloudEventDecoder.StructuredMediaType, out var structured))
        {
            structured.Schema = Event();
        }

        if (content.TryGetValue(CloudEventDecoder.BatchMediaType, out var batch))
        {
            batch.Schema = new OpenApiSchema { Type = JsonSchemaType.Array, Items = Event(), Description = "CloudEvents in batch mode: a receipt per event, in order." };
        }
    }

    private static OpenApiSchema Event() => new()
    {
        Type = JsonSchemaType.Object,
        Description = "A CloudEvents 1.0 event (JSON event format); the type selects its mapping (--event-mapping, docs/cloudevents.md), which says where account, quantity and dimensions come from. Extension attributes (1-20 of a-z, 0-9) are allowed.",
        Required = new HashSet<string>(StringComparer.Ordinal) { "specversion", "id", "source", "type", "time" },
        Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
        {
            ["specversion"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Must be \"1.0\"." },
            ["id"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Unique per source: source + id is the dedup key." },
            ["source"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "URI-reference of the producer." },
            ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Selects the mapping; an unmapped type is rejected unmapped_event_type." },
            ["subject"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["time"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time", Description = "RFC 3339; required for metering (usage is metered by event time)." },
            ["datacontenttype"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "JSON (or absent) for data that a mapping reaches with JSON paths." },
            ["data"] = new OpenApiSchema { Description = "The event's payload; JSON paths of the mapping point into it." },
            ["data_base64"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "byte", Description = "Decoded and read as data when datacontenttype is JSON." },
        },
    };
}
