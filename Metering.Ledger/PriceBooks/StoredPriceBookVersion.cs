namespace Metering.Ledger.PriceBooks;

/// <summary>
/// A published price-book version as stored in <c>price_book_versions</c>: the version's effective range (UTC,
/// half-open, <see cref="EffectiveTo"/> null = open), its hash and the hash of the book header
/// (<see cref="PriceBookStore.HeaderHash"/>), and the document exactly as it was published.
/// </summary>
/// <param name="BookId">The price book's id.</param>
/// <param name="Version">The version's name, unique within the book.</param>
/// <param name="Currency">ISO currency code (trimmed).</param>
/// <param name="Account">The account a contract book prices; null for a list book.</param>
/// <param name="Parent">The list book a contract book inherits from; null when none.</param>
/// <param name="EffectiveFrom">Start of the version's effective range (inclusive).</param>
/// <param name="EffectiveTo">End of the version's effective range (exclusive); null when open.</param>
/// <param name="VersionHash">The version's content hash.</param>
/// <param name="HeaderHash">The book header's hash; the same for every version of a book.</param>
/// <param name="Document">The published JSON document, unchanged.</param>
/// <param name="PublishedAt">When the version was stored (the database's clock); <c>default</c> for a candidate not yet stored.</param>
public sealed record StoredPriceBookVersion(
    string BookId, string Version, string Currency, string? Account, string? Parent, DateTimeOffset EffectiveFrom, DateTimeOffset? EffectiveTo,
    string VersionHash, string HeaderHash, string Document, DateTimeOffset PublishedAt);
