
namespace Metering.Web.Api;

/// <summary>One bucket of usage on the wire: quantity and amount as exact decimal strings.</summary>
internal sealed record UsagePointResponse(DateTimeOffset BucketStart, string Sku, IReadOnlyDictionary<string, string> Dimensions, string Quantity, long RecordCount, string Amount, string Currency);
