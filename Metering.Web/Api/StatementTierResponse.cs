namespace Metering.Web.Api;

/// <summary>One tier of a usage line: its range, the quantity in it, its unit price and flat fee, and its exact (unrounded) amount.</summary>
internal sealed record StatementTierResponse(int Tier, string From, string? UpTo, string Quantity, string UnitPrice, string FlatFee, string Amount);
