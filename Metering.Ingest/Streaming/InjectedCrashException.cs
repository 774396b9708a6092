namespace Metering.Ingest.Streaming;

/// <summary>Fault injection (<see cref="StreamingOptions.CrashAfterFlushes"/>): unwinds the engine as a kill would, skipping every clean-up step.</summary>
internal sealed class InjectedCrashException() : Exception("injected crash");
