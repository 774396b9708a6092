namespace Metering.Cli.Arguments;

/// <summary>
/// A command-line mistake: exit code 2. Printed with the command's usage, unless <see cref="ShowUsage"/> is false
/// (a well-formed value the machine refuses, such as a busy listen port: the usage would only bury the one line).
/// </summary>
public sealed class CliUsageException(string message, bool showUsage = true) : Exception(message)
{
    /// <summary>Whether the command's usage text follows the message.</summary>
    public bool ShowUsage { get; } = showUsage;
}
