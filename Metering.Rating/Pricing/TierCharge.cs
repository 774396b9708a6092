namespace Metering.Rating.Pricing;

/// <summary>
/// One tier of a charge's breakdown (<see cref="SkuPrice.TierBreakdown"/>): tier number <paramref name="Tier"/>
/// (1-based, in the book's order) covering billable quantities above <paramref name="From"/> up to and including
/// <paramref name="UpTo"/> (null = open-ended), the <paramref name="Quantity"/> of billed units priced in it, its
/// <paramref name="UnitPrice"/> and <paramref name="FlatFee"/>, and the exact, unrounded
/// <paramref name="Amount"/> = quantity x unit price + flat fee.
/// </summary>
public sealed record TierCharge(int Tier, decimal From, decimal? UpTo, decimal Quantity, decimal UnitPrice, decimal FlatFee, decimal Amount);
