namespace Metering.Ledger.Corrections;

/// <summary>
/// How far back a void or amend may reach: an event whose time is more than <see cref="Length"/> before now is refused
/// (<c>outside_horizon</c>). Bounds how old a period a correction can reopen; money for older events is a manual
/// credit or debit. Default 62 days (two monthly periods).
/// </summary>
public readonly record struct CorrectionHorizon
{
    /// <summary>The default length: 62 days.</summary>
    public static readonly TimeSpan DefaultLength = TimeSpan.FromDays(62);

    /// <summary>A horizon of <paramref name="length"/> (at least one hour: shorter would refuse the events a retry resends).</summary>
    public CorrectionHorizon(TimeSpan length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, TimeSpan.FromHours(1));
        Length = length;
    }

    /// <summary>The default horizon, 62 days.</summary>
    public static CorrectionHorizon Default { get; } = new(DefaultLength);

    /// <summary>How far before now an event may lie.</summary>
    public TimeSpan Length { get; }
}
