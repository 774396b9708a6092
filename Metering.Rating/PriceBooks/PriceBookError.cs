
namespace Metering.Rating.PriceBooks;

/// <summary>A price-book problem and where it is, as a JSON path (<c>$.versions[1].prices["cdn.requests"].tiers[2].up_to</c>).</summary>
public sealed record PriceBookError(string Path, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Path}: {Message}";
}
