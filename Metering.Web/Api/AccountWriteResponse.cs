
namespace Metering.Web.Api;

/// <summary>The answer of <c>PUT /v1/accounts/{account}</c>: <c>status</c> created, updated or unchanged, and the account as stored now.</summary>
internal sealed record AccountWriteResponse(string Status, AccountResponse Account);
