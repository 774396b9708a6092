
namespace Metering.Redis;

/// <summary>One SKU's live counter for an account and billing period, exact (decimal strings, never floats).</summary>
public sealed record LiveCounter(string Sku, long Count, decimal Quantity, decimal Amount, string Currency);
