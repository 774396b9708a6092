
namespace Metering.Web.Api;

/// <summary>Thrown by a usage store that cannot answer now; the API answers 503.</summary>
public sealed class UsageStoreUnavailableException(string message) : Exception(message);
