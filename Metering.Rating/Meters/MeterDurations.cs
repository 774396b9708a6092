using System.Globalization;

namespace Metering.Rating.Meters;

/// <summary>
/// The durations a meter names: <c>bucket</c> and <c>rate_per</c> as a whole number and a unit (<c>5m</c>, <c>1s</c>,
/// <c>1h</c>), <c>unit_of_time</c> as a unit word (<c>second</c>, <c>minute</c>, <c>hour</c>, <c>day</c>).
/// </summary>
public static class MeterDurations
{
    /// <summary>Parses <c>N</c> followed by <c>s</c>, <c>m</c> or <c>h</c> (N a positive whole number without sign or leading zero); false otherwise.</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = default;
        if (text is null || text.Length < 2 || text[0] == '0')
        {
            return false;
        }

        var unit = text[^1] switch { 's' => TimeSpan.TicksPerSecond, 'm' => TimeSpan.TicksPerMinute, 'h' => TimeSpan.TicksPerHour, _ => 0 };
        var digits = text.AsSpan(0, text.Length - 1);
        if (unit == 0 || digits.Length > 6 || digits.ContainsAnyExcept("0123456789") ||
            !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            return false;
        }

        duration = TimeSpan.FromTicks(n * unit);
        return true;
    }

    /// <summary>Writes a duration in the largest unit that divides it (<c>300 s</c> as <c>5m</c>).</summary>
    public static string Format(TimeSpan duration) =>
        duration.Ticks % TimeSpan.TicksPerHour == 0 ? $"{duration.Ticks / TimeSpan.TicksPerHour}h"
        : duration.Ticks % TimeSpan.TicksPerMinute == 0 ? $"{duration.Ticks / TimeSpan.TicksPerMinute}m"
        : $"{duration.Ticks / TimeSpan.TicksPerSecond}s";

    /// <summary>Parses a time_weighted <c>unit_of_time</c>: second, minute, hour or day.</summary>
    public static bool TryParseUnit(string? text, out TimeSpan unit)
    {
        unit = text switch
        {
            "second" => TimeSpan.FromSeconds(1),
            "minute" => TimeSpan.FromMinutes(1),
            "hour" => TimeSpan.FromHours(1),
            "day" => TimeSpan.FromDays(1),
            _ => default,
        };
        return unit != default;
    }

    /// <summary>The word of a unit of time parsed by <see cref="TryParseUnit"/>.</summary>
    public static string UnitName(TimeSpan unit) => unit.Ticks switch
    {
        TimeSpan.TicksPerSecond => "second",
        TimeSpan.TicksPerMinute => "minute",
        TimeSpan.TicksPerHour => "hour",
        _ => "day",
    };
}
