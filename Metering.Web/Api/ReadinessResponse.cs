
namespace Metering.Web.Api;

/// <summary>Readiness answer: <c>ok</c>, <c>failed</c>, <c>timeout</c> or <c>not_configured</c> per dependency.</summary>
internal sealed record ReadinessResponse(string Status, IReadOnlyDictionary<string, string> Checks);
