using System.Globalization;

namespace Metering.Aggregates.Admission;

/// <summary>
/// The lateness rule, one implementation for the streaming engine, the file mode and the HTTP edge: a record is
/// admitted while its event time is at most the lateness (default <see cref="Default"/>, 35 days, as Metronome,
/// Stripe and m3ter accept) behind the newest event time seen (the engine and the file mode), or behind the clock
/// less the edge's allowances (the HTTP edge, see <see cref="EdgeMaxAge"/>); within that window its id is
/// deduplicated exactly (docs/usage-records.md). An older record is rejected as <c>expired_time</c> with
/// <see cref="Detail"/>, which names the window. Pure functions, thread-safe.
/// </summary>
public static class LatenessRule
{
    /// <summary>The default lateness: 35 days of event time.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromDays(35);

    /// <summary>
    /// The oldest age the edge admits by its own clock: the lateness less the future skew (the engine's newest
    /// record may be that far ahead of the clock) and a grace for consumer lag, so a record the edge accepted is never
    /// one the engine dead-letters, unless the engine lags the edge by more than the grace.
    /// </summary>
    public static TimeSpan EdgeMaxAge(TimeSpan lateness, TimeSpan futureSkew, TimeSpan lagGrace) => lateness - futureSkew - lagGrace;

    /// <summary>
    /// The reject detail of a record older than the window of <paramref name="lateness"/> behind
    /// <paramref name="behind"/> ("the newest record", "the clock").
    /// </summary>
    public static string Detail(TimeSpan lateness, string behind) =>
        $"time is more than {Format(lateness)} behind {behind}: older than the lateness window (--max-lateness {Format(lateness)}), within which late records are accepted and deduplicated";

    /// <summary>A duration as the CLI writes it: 35d, 22h50m, 90m.</summary>
    public static string Format(TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            return value.ToString("c", CultureInfo.InvariantCulture);
        }

        var text = "";
        if (value.Days > 0)
        {
            text += value.Days.ToString(CultureInfo.InvariantCulture) + "d";
        }

        if (value.Hours > 0)
        {
            text += value.Hours.ToString(CultureInfo.InvariantCulture) + "h";
        }

        if (value.Minutes > 0)
        {
            text += value.Minutes.ToString(CultureInfo.InvariantCulture) + "m";
        }

        if (value.Seconds > 0 || value.Milliseconds > 0)
        {
            text += (value.Seconds + (value.Milliseconds / 1000m)).ToString(CultureInfo.InvariantCulture) + "s";
        }

        return text;
    }
}
