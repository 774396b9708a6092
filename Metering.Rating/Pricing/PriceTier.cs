namespace Metering.Rating.Pricing;

/// <summary>
/// One tier. <see cref="UpTo"/> is inclusive ("up to and including"); null = open-ended last tier. Without
/// <see cref="BlockSize"/> the tier prices each unit at <see cref="UnitPrice"/>; with it (Kill Bill's tiered blocks)
/// <see cref="UnitPrice"/> is the price of one started block of <see cref="BlockSize"/> units.
/// </summary>
public sealed record PriceTier(decimal? UpTo, decimal UnitPrice, decimal FlatFee, decimal? BlockSize = null);
