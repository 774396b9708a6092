
namespace Metering.Web.Api;

/// <summary>Liveness answer.</summary>
internal sealed record LivenessResponse(string Status);
