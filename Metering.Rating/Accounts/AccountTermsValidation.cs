namespace Metering.Rating.Accounts;

/// <summary>
/// The outcome of <see cref="AccountTerms.Validate"/>: the terms when the input is valid, else null and one or more
/// problems per field (snake_case field names, as the REST API names them).
/// </summary>
public sealed record AccountTermsValidation(AccountTerms? Terms, IReadOnlyDictionary<string, string[]> Problems)
{
    /// <summary>True when the input was valid.</summary>
    public bool IsValid => Terms is not null;
}
