namespace Metering.Aggregates.Records;

/// <summary>
/// Strict RFC 3339 timestamp parser over UTF-8: <c>YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)</c>.
/// 'T' may also be 't' or a space, 'Z' may be 'z' (RFC 3339 section 5.6 note). Fractions finer than 100 ns are
/// truncated (documented). Leap seconds (":60") are rejected: .NET time has no representation for them.
/// </summary>
public static class Rfc3339
{
    /// <summary>Parses to UTC <see cref="DateTime.Ticks"/>; returns false on any deviation from the grammar.</summary>
    public static bool TryParseUtcTicks(ReadOnlySpan<byte> s, out long utcTicks)
    {
        utcTicks = 0;
        if (s.Length < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
            s[13] != ':' || s[16] != ':')
        {
            return false;
        }

        if (!Digits(s, 0, 4, out var year) || !Digits(s, 5, 2, out var month) || !Digits(s, 8, 2, out var day) ||
            !Digits(s, 11, 2, out var hour) || !Digits(s, 14, 2, out var minute) || !Digits(s, 17, 2, out var second))
        {
            return false;
        }

        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) ||
            hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        var i = 19;
        long fractionTicks = 0;
        if (s[i] == '.')
        {
            i++;
            var start = i;
            var scale = TimeSpan.TicksPerSecond / 10;
            for (; i < s.Length && s[i] is >= (byte)'0' and <= (byte)'9'; i++)
            {
                fractionTicks += (s[i] - '0') * scale;
                scale /= 10;
            }

            if (i == start)
            {
                return false;
            }
        }

        if (i >= s.Length)
        {
            return false;
        }

        long offsetTicks;
        if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == s.Length)
        {
            offsetTicks = 0;
        }
        else if ((s[i] == '+' || s[i] == '-') && i + 6 == s.Length && s[i + 3] == ':' &&
                 Digits(s, i + 1, 2, out var oh) && Digits(s, i + 4, 2, out var om) && oh <= 23 && om <= 59)
        {
            offsetTicks = ((oh * 60L) + om) * TimeSpan.TicksPerMinute;
            if (s[i] == '-')
            {
                offsetTicks = -offsetTicks;
            }
        }
        else
        {
            return false;
        }

        var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc).Ticks + fractionTicks;
        var utc = local - offsetTicks;
        if (utc < DateTime.MinValue.Ticks || utc > DateTime.MaxValue.Ticks)
        {
            return false;
        }

        utcTicks = utc;
        return true;
    }

    private static bool Digits(ReadOnlySpan<byte> s, int start, int count, out int value)
    {
        value = 0;
        for (var k = start; k < start + count; k++)
        {
            var d = s[k] - '0';
            if ((uint)d > 9)
            {
                return false;
            }

            value = (value * 10) + d;
        }

        return true;
    }
}
