using Metering.Ledger.Corrections;

namespace Metering.Cli.Arguments;

/// <summary>The option shared by <c>metering correct</c> and <c>metering serve</c>: the correction horizon.</summary>
public static class CorrectionArguments
{
    /// <summary>Usage text of <c>--correction-horizon</c>.</summary>
    public const string Usage = "  --correction-horizon D     how far back a void or amend may reach, by event time (default 62d, at least 1h)\n";

    /// <summary><c>--correction-horizon</c> (METERING_CORRECTION_HORIZON), default 62 days; at least one hour.</summary>
    public static CorrectionHorizon Horizon(CliArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var length = args.Duration("correction-horizon", CorrectionHorizon.DefaultLength);
        return length >= TimeSpan.FromHours(1)
            ? new CorrectionHorizon(length)
            : throw new CliUsageException($"--correction-horizon must be at least 1h, got {length}");
    }
}
