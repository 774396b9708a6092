using Metering.Rating.PriceBooks;

namespace Metering.Ledger.PriceBooks;

/// <summary>The catalog built from the registry at one revision (<see cref="PriceBookRegistry.LoadAsync(Npgsql.NpgsqlDataSource, string?, CancellationToken)"/>).</summary>
/// <param name="Revision">The registry revision it was built at.</param>
/// <param name="Catalog">The list book and its contracts; null when the registry holds no list book.</param>
/// <param name="ListBook">The list book's id; null when none.</param>
public sealed record RegistrySnapshot(long Revision, PriceCatalog? Catalog, string? ListBook);
