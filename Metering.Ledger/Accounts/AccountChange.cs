namespace Metering.Ledger.Accounts;

/// <summary>
/// One audited change of an account's terms: <see cref="Change"/> is <c>created</c> or <c>updated</c>;
/// <see cref="Previous"/> (null when created) and <see cref="Terms"/> are the terms before and after as JSON objects
/// with the API's field names (currency, list_book, contract_book, start, end, anchor_day, time_zone).
/// </summary>
public sealed record AccountChange(long Id, string Account, DateTimeOffset ChangedAt, string Change, string Actor, string? Reason, string? Previous, string Terms);
