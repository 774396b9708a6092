namespace Metering.Ledger.Flush;

/// <summary>Source-generated JSON for the few shapes the streaming path writes.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class StreamingJson : System.Text.Json.Serialization.JsonSerializerContext;
