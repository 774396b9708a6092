namespace Metering.Ledger.Accounts;

/// <summary>
/// One page of <see cref="AccountStore.ListAsync"/>, ordered by account (bytewise). <see cref="NextAfter"/> is the last
/// account of the page when more follow (pass it as <c>after</c> for the next page), null on the last page.
/// </summary>
public sealed record AccountPage(IReadOnlyList<StoredAccount> Accounts, string? NextAfter);
