using Metering.Rating.Accounts;

namespace Metering.Ledger.Accounts;

/// <summary>An account's row: its terms and when the row was created and last changed (UTC).</summary>
public sealed record StoredAccount(AccountTerms Terms, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);
