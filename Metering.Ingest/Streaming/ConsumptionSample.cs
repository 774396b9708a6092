
namespace Metering.Ingest.Streaming;

/// <summary>One look at a consumer for the <see cref="ConsumptionWatchdog"/>.</summary>
/// <param name="AssignedPartitions">Partitions the member holds now.</param>
/// <param name="Read">Records consumed since start (any monotonic progress counter).</param>
/// <param name="Rejoining">The member lost its assignment (session timeout, fenced) and has not been given partitions since.</param>
public readonly record struct ConsumptionSample(int AssignedPartitions, long Read, bool Rejoining);
