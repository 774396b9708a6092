using Metering.Cli.Arguments;
using Metering.Ledger.Quotas;

namespace Metering.Cli.Commands;

/// <summary><c>metering quota remove</c>: deletes a quota by id (its alerts stay).</summary>
public sealed class QuotaRemoveCommand : ICliCommand
{
    private readonly TextWriter? _output;

    /// <summary>Writes to the console.</summary>
    public QuotaRemoveCommand()
    {
    }

    /// <summary>Writes its output to <paramref name="output"/> (tests).</summary>
    public QuotaRemoveCommand(TextWriter output) => _output = output;

    public IReadOnlyList<string> Name { get; } = ["quota", "remove"];

    public string Summary => "remove a quota by id (see quota list); its alerts stay";

    public string Usage => "usage: metering quota remove --id N [ledger options]\n\n" +
        "  --id N                     the quota's id, as quota list prints it\n" +
        LedgerArguments.Usage +
        "\nA quota from a price book comes back at the next 'metering stream' start unless the book drops it.\n" +
        "exit codes: 0 removed, 1 no such quota, 2 usage error";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var id = args.Int64("id", 0, min: 1);
        if (id == 0)
        {
            throw new CliUsageException("--id is required (the id quota list prints)");
        }

        args.RejectUnknown(LedgerArguments.Options);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        var removed = await QuotaStore.RemoveAsync(db, id, cancellationToken).ConfigureAwait(false);
        (_output ?? Console.Out).WriteLine(removed ? $"quota {id}: removed" : $"quota {id}: no such quota");
        return removed ? 0 : 1;
    }
}
