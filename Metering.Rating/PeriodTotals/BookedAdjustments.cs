namespace Metering.Rating.PeriodTotals;

/// <summary>The sum of the adjustment lines already booked for one total of a closed period (earlier late usage).</summary>
public readonly record struct BookedAdjustments(decimal Quantity, long Count, decimal Amount);
