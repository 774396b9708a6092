namespace Metering.Ledger.Statements;

/// <summary>A price-book version a statement's lines were priced from: book id, version, "sha256:..." hash.</summary>
public sealed record StatementPriceBookRef(string Book, string Version, string Hash);
