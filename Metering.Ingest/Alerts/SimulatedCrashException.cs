
namespace Metering.Ingest.Alerts;

/// <summary>Thrown by a dispatcher with <see cref="AlertDispatcherOptions.CrashBeforeMark"/>.</summary>
public sealed class SimulatedCrashException(string message) : Exception(message);
