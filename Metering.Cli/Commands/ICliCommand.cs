using Metering.Cli.Arguments;

namespace Metering.Cli.Commands;

/// <summary>One <c>metering</c> sub-command. Implementations live in Cli/Commands, one file each.</summary>
public interface ICliCommand
{
    /// <summary>The words that select the command, e.g. <c>["aggregate"]</c> or <c>["pricebook", "validate"]</c>.</summary>
    IReadOnlyList<string> Name { get; }

    /// <summary>One line for the command list.</summary>
    string Summary { get; }

    /// <summary>The full usage text: options, defaults, outputs, exit codes.</summary>
    string Usage { get; }

    /// <summary>Runs the command; returns the process exit code (0 ok, 1 failed check, 2 usage error).</summary>
    Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken);
}
