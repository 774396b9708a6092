namespace Metering.Web.HttpIngest;

/// <summary>The answer of <c>POST /v1/events</c> (202; also the extension members of its 403 and 503 problems).</summary>
public sealed record IngestResponse(int Records, int Accepted, int Duplicate, int Rejected, IReadOnlyList<IngestReceipt> Receipts);
