namespace Metering.Rating.Accounts;

/// <summary>
/// Account terms as an operator gives them (a REST body or command-line options), before
/// <see cref="AccountTerms.Validate"/>: instants as RFC 3339 text, absent values null. <see cref="Reason"/> is not a
/// term: it goes with the change into the audit.
/// </summary>
public sealed record AccountTermsInput(string? Account, string? Currency, string? ListBook, string? ContractBook, string? Start, string? End,
    int? AnchorDay, string? TimeZone, string? Reason = null);
