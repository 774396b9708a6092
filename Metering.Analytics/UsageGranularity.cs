namespace Metering.Analytics;

/// <summary>Bucket size of a usage query.</summary>
public enum UsageGranularity
{
    /// <summary>One bucket per minute.</summary>
    Minute,

    /// <summary>One bucket per hour.</summary>
    Hour,

    /// <summary>One bucket per day (UTC).</summary>
    Day,
}
