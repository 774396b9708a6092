namespace Metering.Web.Api;

/// <summary>The answer of <c>POST /v1/accounts/{account}/corrections</c>: <c>status</c> created or replayed, and the correction as stored.</summary>
internal sealed record CorrectionWriteResponse(string Status, CorrectionResponse Correction);
