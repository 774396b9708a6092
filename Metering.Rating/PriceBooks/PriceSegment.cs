namespace Metering.Rating.PriceBooks;

/// <summary>
/// A stretch of a billing period in which one price rates an (account, SKU): from <paramref name="From"/> (the
/// period's start for the first segment, else the instant a version took effect) to the next segment's start or the
/// period's end. <see cref="PriceCatalog.Segments"/> cuts a period into them.
/// </summary>
public readonly record struct PriceSegment(DateTimeOffset From, PriceResolution Resolution);
