
namespace Metering.Aggregates.Aggregation;

/// <summary>What happened to one update.</summary>
public enum AddStatus : byte
{
    /// <summary>Counted.</summary>
    Added,
    /// <summary>Not counted: the key is new and the table holds its limit of active keys.</summary>
    KeyLimitReached,
}
