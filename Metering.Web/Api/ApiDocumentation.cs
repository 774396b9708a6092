using System.Text.Json.Nodes;
using Microsoft.OpenApi;

namespace Metering.Web.Api;

/// <summary>
/// Descriptions, formats and limits of the parameters in the OpenAPI document. Handlers bind every parameter as a string
/// so that a bad value is answered with a problem naming it (the framework's binder would answer a bare 400); this
/// puts the real contract back into the document.
/// </summary>
internal static class ApiDocumentation
{
    private sealed record Parameter(string Description, bool Required = false, string? Format = null, string[]? Enum = null, JsonSchemaType? Type = null);

    private static readonly Dictionary<string, Parameter> Parameters = new(StringComparer.Ordinal)
    {
        ["account"] = new("Account id: 1-128 UTF-8 bytes, no control characters. A token with an 'account' claim may name only that account.", Required: true),
        ["sku"] = new("Only this SKU (default: every SKU)."),
        ["from"] = new("Start of the half-open range [from, to): an RFC 3339 instant with an offset, on a bucket boundary of the granularity (UTC).", Required: true, Format: "date-time"),
        ["to"] = new("End of the range (exclusive), on a bucket boundary. to - from is at most 7 days (minute), 93 days (hour), 1096 days (day).", Required: true, Format: "date-time"),
        ["granularity"] = new("Bucket size (default hour).", Enum: ["minute", "hour", "day"]),
        ["group_by"] = new("Comma-separated dimension keys to group by (at most 8; 1-64 characters of A-Z a-z 0-9 _ . -)."),
        ["limit"] = new("Points per page, 1-10000 (default 1000).", Type: JsonSchemaType.Integer),
        ["cursor"] = new("next_cursor of the previous page, passed back unchanged with the same other parameters."),
        ["period"] = new("The billing period: its start date YYYY-MM-DD, or YYYY-MM for the 1st of that month (UTC).", Required: true),
        ["id"] = new("Price-book id: 1-128 characters of A-Z a-z 0-9 _ . -", Required: true),
        ["version"] = new("Version name: 1-128 characters of A-Z a-z 0-9 _ . -", Required: true),
        ["force"] = new("true closes a period that has not ended yet (the rest of its usage becomes adjustments).", Enum: ["true", "false"]),
    };

    public static void Describe(OpenApiOperation operation)
    {
        if (operation.Parameters is null)
        {
            return;
        }

        foreach (var p in operation.Parameters.OfType<OpenApiParameter>())
        {
            if (p.Name is null || !Parameters.TryGetValue(p.Name, out var doc))
            {
                continue;
            }

            p.Description = doc.Description;
            p.Required |= doc.Required;
            if (p.Schema is OpenApiSchema schema)
            {
                schema.Format = doc.Format ?? schema.Format;
                schema.Type = doc.Type ?? schema.Type;
                if (doc.Enum is not null)
                {
                    schema.Enum = [.. doc.Enum.Select(e => (JsonNode)JsonValue.Create(e))];
                }
            }
        }
    }
}
