namespace Metering.Web.Api;

/// <summary>A page of <c>GET /v1/statements</c>: the statements of one period in account order (bytewise); <c>next_cursor</c> is null on the last page.</summary>
internal sealed record StatementListResponse(DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, IReadOnlyList<StatementResponse> Statements, string? NextCursor);
