using Metering.Cli.Arguments;
using Metering.Cli.Commands;
using Metering.DevKit;

namespace Metering.Cli;

/// <summary>Entry point of the <c>metering</c> command line.</summary>
public static class Program
{
    /// <summary>Set to 1 to let unexpected exceptions end the program with their stack trace.</summary>
    public const string StackTraceVariable = "METERING_STACK_TRACE";

    /// <summary>Dispatches to the longest matching command name.</summary>
    public static async Task<int> Main(string[] args)
    {
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };
        return await RunAsync(args, Console.Out, Console.Error, cts.Token).ConfigureAwait(false);
    }

    /// <summary>Runs one command line; used by Main and by tests.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            PrintHelp(stdout);
            return args.Length == 0 ? 2 : 0;
        }

        ICliCommand? command = null;
        foreach (var candidate in CommandRegistry.All)
        {
            if (Matches(candidate, args) && (command is null || candidate.Name.Count > command.Name.Count))
            {
                command = candidate;
            }
        }

        if (command is null)
        {
            stderr.WriteLine($"metering: unknown command '{string.Join(' ', args.TakeWhile(a => !a.StartsWith('-')))}'");
            PrintHelp(stderr);
            return 2;
        }

        var rest = args.Skip(command.Name.Count).ToArray();
        if (rest.Contains("--help"))
        {
            stdout.WriteLine(command.Usage);
            return 0;
        }

        try
        {
            var parsed = CliArguments.Parse(rest);
            return await command.RunAsync(parsed, cancellationToken).ConfigureAwait(false);
        }
        catch (CliUsageException e)
        {
            stderr.WriteLine($"metering {string.Join(' ', command.Name)}: {e.Message}");
            if (e.ShowUsage)
            {
                stderr.WriteLine();
                stderr.WriteLine(command.Usage);
            }

            return 2;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            stderr.WriteLine("metering: cancelled");
            return 130;
        }
        catch (DependencyUnavailableException e)
        {
            // PostgreSQL, Redis, ... could not be started or reached: the message already says what to do.
            stderr.WriteLine($"metering {string.Join(' ', command.Name)}: {OneLine(e.Message)}");
            return 1;
        }
        catch (Exception e) when (System.Environment.GetEnvironmentVariable(StackTraceVariable) is not ("1" or "true"))
        {
            // Anything else (chDB or librdkafka missing, a bug): one line, not a stack trace; the variable shows it.
            stderr.WriteLine($"metering {string.Join(' ', command.Name)}: {Describe(e)} (set {StackTraceVariable}=1 for the stack trace)");
            return 1;
        }
    }

    private static string Describe(Exception e)
    {
        while (e is AggregateException { InnerExceptions.Count: 1 } or System.Reflection.TargetInvocationException && e.InnerException is not null)
        {
            e = e.InnerException!;
        }

        // librdkafka (the embedded Kafka and every client) ships in the librdkafka.redist package next to the program.
        var hint = e is DllNotFoundException && e.Message.Contains("librdkafka", StringComparison.Ordinal)
            ? "; it comes with the build (librdkafka.redist): rebuild or republish the program"
            : "";
        return $"{OneLine(e.Message)}{hint} ({e.GetType().Name})";
    }

    private static string OneLine(string message) =>
        string.Join(" | ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static bool Matches(ICliCommand command, string[] args)
    {
        if (args.Length < command.Name.Count)
        {
            return false;
        }

        for (var i = 0; i < command.Name.Count; i++)
        {
            if (!string.Equals(args[i], command.Name[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private static void PrintHelp(TextWriter w)
    {
        w.WriteLine("metering: usage metering and rating engine");
        w.WriteLine();
        w.WriteLine("commands:");
        foreach (var c in CommandRegistry.All)
        {
            w.WriteLine($"  {string.Join(' ', c.Name),-22} {c.Summary}");
        }

        w.WriteLine();
        w.WriteLine("'metering COMMAND --help' prints a command's options.");
        w.WriteLine($"Any option --foo-bar not given falls back to the environment variable {CliArguments.EnvironmentPrefix}FOO_BAR.");
    }
}
