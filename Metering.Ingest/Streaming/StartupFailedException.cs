
namespace Metering.Ingest.Streaming;

/// <summary>The infrastructure a worker needs at start-up stayed unreachable for the whole retry budget.</summary>
public sealed class StartupFailedException(string message, Exception inner) : Exception(message, inner);
