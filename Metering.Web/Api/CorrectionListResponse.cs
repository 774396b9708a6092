namespace Metering.Web.Api;

/// <summary>A page of <c>GET /v1/accounts/{account}/corrections</c>, newest first; <c>next_cursor</c> is null on the last page.</summary>
internal sealed record CorrectionListResponse(IReadOnlyList<CorrectionResponse> Corrections, string? NextCursor);
