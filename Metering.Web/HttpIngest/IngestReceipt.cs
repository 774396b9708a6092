namespace Metering.Web.HttpIngest;

/// <summary>What happened to one record of a request (the order of the body; blank NDJSON lines are not records).</summary>
public sealed record IngestReceipt(int Index, string Status, string? Reason, string? Detail);
