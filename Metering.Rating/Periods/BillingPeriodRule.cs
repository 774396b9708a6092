namespace Metering.Rating.Periods;

/// <summary>
/// How time is cut into billing periods. One function, <see cref="PeriodOf"/>, answers "which period holds this
/// instant" for every rule:
/// <list type="bullet">
/// <item><b>monthly</b> anchored on day D (1-31, default 1 = calendar month) at local midnight of a time zone
/// (default UTC): a period starts on day D of a month, or on the month's last day when the month is shorter
/// (anchor 31 -> Feb 28/29, Apr 30), and ends where the next one starts. In a zone with daylight saving time the
/// boundaries follow the local clock, so a period is an hour shorter or longer when it spans a change; a local
/// midnight that the clock skips starts the period at the first instant after the gap, and one the clock passes
/// twice starts it at the first pass;</item>
/// <item><b>fixed</b> length L from an epoch E: periods [E + nL, E + (n+1)L) for every integer n.</item>
/// </list>
/// Periods are always returned as UTC instants. Immutable and thread-safe.
/// </summary>
public sealed class BillingPeriodRule
{
    // The longest gap a zone's clock has ever skipped is a whole day (Pacific/Apia, 2011-12-30); past that the
    // zone's data is broken and guessing a boundary would bill the wrong days.
    private const int MaxGapMinutes = 48 * 60;

    private readonly bool _utc;

    private BillingPeriodRule(int anchorDay, TimeSpan fixedLength, DateTimeOffset epoch, TimeZoneInfo timeZone)
    {
        AnchorDay = anchorDay;
        FixedLength = fixedLength;
        Epoch = epoch;
        TimeZone = timeZone;
        _utc = timeZone.HasSameRules(TimeZoneInfo.Utc);
    }

    /// <summary>Calendar months in UTC (anchor day 1).</summary>
    public static BillingPeriodRule CalendarMonth { get; } = Monthly(1);

    /// <summary>Monthly periods anchored on <paramref name="anchorDay"/> (1-31) at 00:00 UTC.</summary>
    public static BillingPeriodRule Monthly(int anchorDay) => Monthly(anchorDay, TimeZoneInfo.Utc);

    /// <summary>
    /// Monthly periods anchored on <paramref name="anchorDay"/> (1-31) at local midnight in <paramref name="timeZone"/>
    /// (e.g. <c>TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin")</c>). A zone with UTC's rules gives exactly
    /// <see cref="Monthly(int)"/>.
    /// </summary>
    public static BillingPeriodRule Monthly(int anchorDay, TimeZoneInfo timeZone)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(anchorDay, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(anchorDay, 31);
        ArgumentNullException.ThrowIfNull(timeZone);
        return new BillingPeriodRule(anchorDay, TimeSpan.Zero, default, timeZone);
    }

    /// <summary>Periods of a fixed <paramref name="length"/> (at least one hour) counted from <paramref name="epoch"/>.</summary>
    public static BillingPeriodRule Fixed(TimeSpan length, DateTimeOffset epoch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, TimeSpan.FromHours(1));
        return new BillingPeriodRule(0, length, epoch.ToUniversalTime(), TimeZoneInfo.Utc);
    }

    /// <summary>Anchor day of monthly periods, 0 for fixed-length periods.</summary>
    public int AnchorDay { get; }

    /// <summary>Length of fixed periods.</summary>
    public TimeSpan FixedLength { get; }

    /// <summary>Epoch of fixed periods.</summary>
    public DateTimeOffset Epoch { get; }

    /// <summary>The zone whose local midnight starts a monthly period (UTC for fixed-length periods).</summary>
    public TimeZoneInfo TimeZone { get; }

    /// <summary>The period that contains <paramref name="instant"/>.</summary>
    public BillingPeriod PeriodOf(DateTimeOffset instant)
    {
        var t = instant.ToUniversalTime();
        if (AnchorDay == 0)
        {
            var n = (long)Math.Floor((decimal)(t - Epoch).Ticks / FixedLength.Ticks);
            var start = Epoch + TimeSpan.FromTicks(n * FixedLength.Ticks);
            return new BillingPeriod(start, start + FixedLength);
        }

        // The month is the instant's month on the zone's clock; period starts grow with the month, so the instant
        // lies either in the period that starts in its own month or in the one before.
        var local = _utc ? t.DateTime : TimeZoneInfo.ConvertTime(t, TimeZone).DateTime;
        var thisMonth = AnchorIn(local.Year, local.Month);
        if (t >= thisMonth)
        {
            var next = local.Month == 12 ? AnchorIn(local.Year + 1, 1) : AnchorIn(local.Year, local.Month + 1);
            return new BillingPeriod(thisMonth, next);
        }

        var previous = local.Month == 1 ? AnchorIn(local.Year - 1, 12) : AnchorIn(local.Year, local.Month - 1);
        return new BillingPeriod(previous, thisMonth);
    }

    /// <summary>
    /// The period of this rule that a close of <paramref name="label"/> (a period of the list book's rule) closes: the
    /// one whose start, on this rule's clock, falls on a date from <paramref name="label"/>'s start date to the day
    /// before its end date (UTC dates). For monthly rules on monthly labels there is exactly one: an account on the
    /// 15th closes [Nov 15, Dec 15) with November, an account in Europe/Berlin its local November. Null when none
    /// does (a fixed-length label shorter than a month).
    /// </summary>
    public BillingPeriod? PeriodLabelledBy(BillingPeriod label)
    {
        var first = DateOnly.FromDateTime(label.Start.UtcDateTime);
        var last = DateOnly.FromDateTime(label.End.UtcDateTime);
        // No zone is more than 14 hours off UTC: a period starting on the label's first local date starts after this.
        var period = PeriodOf(label.Start - TimeSpan.FromHours(15));
        while (LocalDate(period.Start) < first)
        {
            period = PeriodOf(period.End);
        }

        return LocalDate(period.Start) < last ? period : null;
    }

    private DateOnly LocalDate(DateTimeOffset instant) =>
        DateOnly.FromDateTime(_utc ? instant.UtcDateTime : TimeZoneInfo.ConvertTime(instant, TimeZone).DateTime);

    private DateTimeOffset AnchorIn(int year, int month)
    {
        var day = Math.Min(AnchorDay, DateTime.DaysInMonth(year, month));
        return _utc ? new DateTimeOffset(year, month, day, 0, 0, 0, TimeSpan.Zero) : StartOfLocalDay(new DateTime(year, month, day, 0, 0, 0, DateTimeKind.Unspecified));
    }

    // The first instant of a local day: midnight, or the end of a gap that swallowed midnight (clocks that jump
    // forward at 00:00, as in America/Santiago), or the first of two midnights when the clock falls back over it.
    private DateTimeOffset StartOfLocalDay(DateTime midnight)
    {
        var local = midnight;
        for (var minutes = 0; TimeZone.IsInvalidTime(local); minutes++)
        {
            if (minutes > MaxGapMinutes)
            {
                throw new InvalidOperationException($"time zone '{TimeZone.Id}' skips more than {MaxGapMinutes / 60} hours after {midnight:yyyy-MM-dd HH:mm}; its rules are not usable for billing periods");
            }

            local = local.AddMinutes(1);
        }

        var offset = TimeZone.IsAmbiguousTime(local) ? TimeZone.GetAmbiguousTimeOffsets(local).Max() : TimeZone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset).ToUniversalTime();
    }
}
