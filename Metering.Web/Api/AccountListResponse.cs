
namespace Metering.Web.Api;

/// <summary>A page of <c>GET /v1/accounts</c>, ordered by account id (bytewise); <c>next_cursor</c> is null on the last page.</summary>
internal sealed record AccountListResponse(IReadOnlyList<AccountResponse> Accounts, string? NextCursor);
