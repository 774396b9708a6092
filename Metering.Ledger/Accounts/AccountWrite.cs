namespace Metering.Ledger.Accounts;

/// <summary>The outcome of <see cref="AccountStore.SetAsync"/>: what happened and the row as it is now.</summary>
public sealed record AccountWrite(AccountWriteStatus Status, StoredAccount Account);
