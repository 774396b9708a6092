namespace Metering.Web.Api;

/// <summary>
/// One account of a re-rate: the difference <c>lines</c> from the period as billed to the draft books and their
/// <c>totals</c> per currency; the re-rate lines of the period <c>earlier_applied</c>; what an apply books
/// (<c>to_book</c>, <c>to_book_totals</c>); the content hashes of the two statements compared (null in a replay);
/// <c>baseline_matches_final</c> false when the billing books do not reproduce the final statement.
/// </summary>
internal sealed record RerateAccountResponse(string Account, IReadOnlyList<RerateLineResponse> Lines, IReadOnlyList<CurrencySubtotal> Totals,
    IReadOnlyList<RerateLineResponse> EarlierApplied, IReadOnlyList<RerateLineResponse> ToBook, IReadOnlyList<CurrencySubtotal> ToBookTotals,
    string? BaselineHash, string? RecomputedHash, bool BaselineMatchesFinal);
