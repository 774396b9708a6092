using System.Text.Json;
using System.Text.Json.Serialization;

namespace Metering.Web.Api;

/// <summary>The JSON conventions of every API body (snake_case, nulls written), shared with the CLI's exports so an exported statement is the API's.</summary>
internal static class ApiJson
{
    public static JsonSerializerOptions Options { get; } = Apply(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Apply(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        return options;
    }
}
