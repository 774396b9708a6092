namespace Metering.Rating.Pricing;

/// <summary>One tier. <see cref="UpTo"/> is inclusive ("up to and including"); null = open-ended last tier.</summary>
public sealed record PriceTier(decimal? UpTo, decimal UnitPrice, decimal FlatFee);
