using Metering.Rating.PriceBooks;

namespace Metering.Cli.Arguments;

/// <summary>One price-book file: where it is, the book it loads as, and its bytes (what is published).</summary>
/// <param name="Path">The file's path.</param>
/// <param name="Book">The validated book.</param>
/// <param name="Json">The file's bytes.</param>
public sealed record PriceBookFile(string Path, PriceBook Book, byte[] Json);
