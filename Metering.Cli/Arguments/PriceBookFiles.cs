using Metering.Rating.PriceBooks;

namespace Metering.Cli.Arguments;

/// <summary>The price-book options of a command (<see cref="LedgerArguments.PriceFiles"/>), the files loaded and validated.</summary>
/// <param name="Catalog">The files' catalog; null when there is no file.</param>
/// <param name="Files">The list book first, then the contracts.</param>
/// <param name="Given">Whether --pricebook or --contracts was given (not only the default example).</param>
/// <param name="ListBook">--pricebook-id: the registry's list book to rate with.</param>
/// <param name="Refresh">--pricebook-refresh: the registry's poll interval.</param>
public sealed record PriceBookFiles(PriceCatalog? Catalog, IReadOnlyList<PriceBookFile> Files, bool Given, string? ListBook, TimeSpan Refresh);
