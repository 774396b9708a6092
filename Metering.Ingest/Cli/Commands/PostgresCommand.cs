using Metering.Ingest.Storage;

namespace Metering.Ingest.Cli.Commands;

/// <summary><c>metering postgres start|stop|status</c>: manages the engine's private PostgreSQL.</summary>
public sealed class PostgresCommand : ICliCommand
{
    /// <inheritdoc />
    public IReadOnlyList<string> Name { get; } = ["postgres"];

    /// <inheritdoc />
    public string Summary => "start, stop or show the private PostgreSQL (embedded default) and apply migrations";

    /// <inheritdoc />
    public string Usage => "usage: metering postgres start|stop|status [--data-dir DIR]\n\n" +
        "  --data-dir DIR             where the server lives (default .metering/postgres)\n" +
        "start initializes on first use, starts or reuses the server, applies migrations and prints the connection string.";

    /// <inheritdoc />
    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var dir = args.String("data-dir", Path.Combine(".metering", "postgres"))!;
        args.RejectUnknown();
        var verb = args.Positional.Count == 1 ? args.Positional[0] : throw new CliUsageException("say start, stop or status");
        var server = new EmbeddedPostgres(dir);
        switch (verb)
        {
            case "start":
            case "status":
                if (verb == "status" && !File.Exists(Path.Combine(dir, "port")))
                {
                    Console.Out.WriteLine($"postgres: not initialized in {Path.GetFullPath(dir)}");
                    return 1;
                }

                var wasRunning = await server.StartAsync(cancellationToken).ConfigureAwait(false);
                var applied = await MigrationRunner.ApplyAsync(server.ConnectionString, cancellationToken: cancellationToken).ConfigureAwait(false);
                Console.Error.WriteLine($"postgres: {(wasRunning ? "already running" : "started")} in {Path.GetFullPath(dir)}; {applied.Count} migration(s) applied now");
                Console.Out.WriteLine(server.ConnectionString);
                return 0;
            case "stop":
                await server.StopAsync(cancellationToken).ConfigureAwait(false);
                Console.Error.WriteLine("postgres: stopped");
                return 0;
            default:
                throw new CliUsageException($"unknown action '{verb}': say start, stop or status");
        }
    }
}
