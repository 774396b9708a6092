using System.Diagnostics;

namespace Metering.Tests.Cli;

/// <summary>
/// Runs the real <c>metering</c> executable (the metering.dll built next to the tests) as its own process, to see what
/// a user sees: the exit code and both streams, including any unhandled-exception stack trace.
/// </summary>
public static class MeteringProcess
{
    /// <summary>The full path of the dotnet host, so a test can run the program with an empty PATH.</summary>
    public static string Dotnet { get; } =
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "dotnet")).FirstOrDefault(File.Exists) ?? "dotnet";

    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo(Dotnet)
        {
            WorkingDirectory = workingDirectory, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "metering.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"metering {string.Join(' ', args)} did not exit within 3 minutes");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
