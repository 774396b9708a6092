namespace Metering.Ledger.PriceBooks;

/// <summary>How publishing one version ended (<see cref="PriceBookStore.PublishInAsync"/>).</summary>
/// <param name="Result">Created, unchanged or refused.</param>
/// <param name="Detail">Why it was refused (names the version, both hashes or the range); null otherwise.</param>
/// <param name="Stored">The stored version (created or already there), or the one it collided with.</param>
/// <param name="Superseded">The open-ended version this one superseded from its effective instant, if any.</param>
public sealed record PublishOutcome(PublishResult Result, string? Detail, StoredPriceBookVersion Stored, string? Superseded);
