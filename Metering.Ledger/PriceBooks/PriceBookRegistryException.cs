namespace Metering.Ledger.PriceBooks;

/// <summary>A price book the registry refuses or cannot build a catalog from; the message names the book, version and hashes.</summary>
public sealed class PriceBookRegistryException(string message) : Exception(message);
