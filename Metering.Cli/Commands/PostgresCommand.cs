using Metering.Cli.Arguments;
using Metering.DevKit.Postgres;
using Metering.Ledger.Migrations;

namespace Metering.Cli.Commands;

/// <summary><c>metering postgres start|stop|status</c>: manages the engine's private PostgreSQL.</summary>
public sealed class PostgresCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["postgres"];

    public string Summary => "start, stop or show the private PostgreSQL (embedded default) and apply migrations";

    public string Usage => "usage: metering postgres start|stop|status [--data-dir DIR]\n\n" +
        "  --data-dir DIR             the server's directory (default .metering/postgres; --pg-dir elsewhere)\n" +
        "start initializes on first use, starts or reuses the server, applies migrations and prints the connection string\n" +
        "(role metering; its password is in the file the string's Passfile names). status only reports: it prints the\n" +
        "connection string when the server runs. When the server's OS user cannot enter DIR (e.g. under root's home) the\n" +
        "server lives in /var/tmp/metering-postgres-HASH and DIR/server-location names it (docs/operations-postgres.md).\n" +
        "exit codes: 0 ok (status: running), 1 status: not running or not initialized, or the server failed, 2 usage error";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var dir = args.String("data-dir") ?? args.String("pg-dir", Path.Combine(".metering", "postgres"))!;
        args.RejectUnknown();
        var verb = args.Positional.Count == 1 ? args.Positional[0] : throw new CliUsageException("say start, stop or status");
        if (verb is not ("start" or "stop" or "status"))
        {
            throw new CliUsageException($"unknown action '{verb}': say start, stop or status");
        }

        var server = new EmbeddedPostgres(dir);
        switch (verb)
        {
            case "status":
                var status = await server.StatusAsync(cancellationToken).ConfigureAwait(false);
                if (!status.Initialized)
                {
                    Console.Out.WriteLine($"postgres: not initialized in {Path.GetFullPath(dir)}");
                    return 1;
                }

                if (!status.Running)
                {
                    Console.Out.WriteLine($"postgres: stopped; data in {status.DataDirectory}, port {status.Port}");
                    return 1;
                }

                Console.Error.WriteLine($"postgres: running; data in {status.DataDirectory}, port {status.Port}");
                Console.Out.WriteLine(server.ConnectionString);
                return 0;
            case "start":
                var wasRunning = await server.StartAsync(cancellationToken).ConfigureAwait(false);
                var applied = await MigrationRunner.ApplyAsync(server.ConnectionString, cancellationToken: cancellationToken).ConfigureAwait(false);
                Console.Error.WriteLine($"postgres: {(wasRunning ? "already running" : "started")}; data in {server.DataDirectory}; {applied.Count} migration(s) applied now");
                Console.Out.WriteLine(server.ConnectionString);
                return 0;
            default:
                await server.StopAsync(cancellationToken).ConfigureAwait(false);
                Console.Error.WriteLine("postgres: stopped");
                return 0;
        }
    }
}
