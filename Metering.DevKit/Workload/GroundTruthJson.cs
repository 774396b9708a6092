using System.Text.Json.Serialization;

namespace Metering.DevKit.Workload;

/// <summary>Source-generated serializer (no reflection).</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(GroundTruth))]
internal sealed partial class GroundTruthJson : JsonSerializerContext;
