namespace Metering.Web.Api;

/// <summary>A price-book version a statement's lines were priced from.</summary>
internal sealed record StatementPriceBookResponse(string Book, string Version, string Hash);
