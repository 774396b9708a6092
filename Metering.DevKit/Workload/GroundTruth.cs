using System.Text.Json;
using System.Text.Json.Serialization;

namespace Metering.DevKit.Workload;

/// <summary>
/// What a generated workload must aggregate to: the balance (read = accepted + duplicates + rejected, rejects by
/// reason) and the exact count and quantity per (account, SKU). Written as JSON next to the workload.
/// </summary>
public sealed class GroundTruth
{
    /// <summary>Lines written (each a record).</summary>
    [JsonPropertyName("read")] public long Read { get; set; }

    /// <summary>Good, first-seen records.</summary>
    [JsonPropertyName("accepted")] public long Accepted { get; set; }

    /// <summary>Exact repeats of earlier records.</summary>
    [JsonPropertyName("duplicates")] public long Duplicates { get; set; }

    /// <summary>Bad records by reason code.</summary>
    [JsonPropertyName("rejected")] public SortedDictionary<string, long> Rejected { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Expected totals per (account, SKU), sorted.</summary>
    [JsonPropertyName("totals")] public List<GroundTruthTotal> Totals { get; init; } = [];

    /// <summary>Serializes with indentation.</summary>
    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, GroundTruthJson.Default.GroundTruth));

    /// <summary>Loads a file written by <see cref="Save"/>.</summary>
    public static GroundTruth Load(string path) =>
        JsonSerializer.Deserialize(File.ReadAllText(path), GroundTruthJson.Default.GroundTruth)
        ?? throw new InvalidDataException($"{path}: empty ground truth");
}
