namespace Metering.Web.Api;

/// <summary>
/// The answer of <c>POST /v1/periods/{period}/rerate</c> (and <c>metering rerate --format json</c>): the accounts with a
/// difference, an earlier re-rate or a baseline mismatch (the others are counted in <c>accounts_unchanged</c>), the
/// grand totals per currency of the difference and of what an apply books, and <c>applied</c> (null for a preview).
/// </summary>
internal sealed record RerateResponse(DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, int AccountsCompared, int AccountsChanged, int AccountsUnchanged,
    IReadOnlyList<RerateAccountResponse> Accounts, IReadOnlyList<CurrencySubtotal> Totals, IReadOnlyList<CurrencySubtotal> ToBookTotals, RerateApplicationResponse? Applied);
