
namespace Metering.Web.Api;

/// <summary><c>GET /v1/pricebooks</c>.</summary>
internal sealed record PriceBookList(IReadOnlyList<PriceBookSummary> Books);
