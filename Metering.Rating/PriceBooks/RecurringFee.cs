
namespace Metering.Rating.PriceBooks;

/// <summary>A flat recurring fee per period; prorated by seconds for partial periods when <see cref="Prorate"/>.</summary>
public sealed record RecurringFee(string Id, decimal Amount, bool Prorate);
