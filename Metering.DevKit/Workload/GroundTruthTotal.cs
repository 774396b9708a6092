using System.Text.Json.Serialization;

namespace Metering.DevKit.Workload;

/// <summary>Expected total of one (account, SKU).</summary>
public sealed class GroundTruthTotal
{
    /// <summary>Account name.</summary>
    [JsonPropertyName("account")] public string Account { get; set; } = "";

    /// <summary>SKU name.</summary>
    [JsonPropertyName("sku")] public string Sku { get; set; } = "";

    /// <summary>Accepted records.</summary>
    [JsonPropertyName("count")] public long Count { get; set; }

    /// <summary>Exact quantity as a decimal string.</summary>
    [JsonPropertyName("quantity")] public string Quantity { get; set; } = "0";
}
