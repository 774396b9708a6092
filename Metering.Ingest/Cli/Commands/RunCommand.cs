namespace Metering.Ingest.Cli.Commands;

/// <summary>The main job on embedded defaults (filled in by the foundation work).</summary>
public sealed class RunCommand : ICliCommand
{
    /// <inheritdoc />
    public IReadOnlyList<string> Name { get; } = ["run"];

    /// <inheritdoc />
    public string Summary => "run the main job on embedded defaults";

    /// <inheritdoc />
    public string Usage => "metering run";

    /// <inheritdoc />
    public Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        args.RejectUnknown();
        return Task.FromResult(0);
    }
}
