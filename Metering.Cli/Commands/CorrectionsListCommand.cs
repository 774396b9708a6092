using Metering.Cli.Arguments;
using Metering.Ledger.Corrections;
using Metering.Web.Api;

namespace Metering.Cli.Commands;

/// <summary><c>metering corrections list</c>: prints an account's corrections, newest first (the audit trail).</summary>
public sealed class CorrectionsListCommand : ICliCommand
{
    private const int PageSize = 1000;

    private readonly TextWriter? _output;

    /// <summary>Writes to the console.</summary>
    public CorrectionsListCommand()
    {
    }

    /// <summary>Writes its output to <paramref name="output"/> (tests).</summary>
    public CorrectionsListCommand(TextWriter output) => _output = output;

    public IReadOnlyList<string> Name { get; } = ["corrections", "list"];

    public string Summary => "list an account's corrections (voids, amends, credits, debits), newest first, with actor and reason";

    public string Usage => "usage: metering corrections list --account A [ledger options]\n\n" +
        "  --account A                the account\n" +
        LedgerArguments.Usage +
        "\nOne line per correction, newest first: id, kind, the event or the amount, booked period, key, actor, time, reason.";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var account = args.Required("account");
        if (UsageRequest.IdentifierProblem(account) is { } problem)
        {
            throw new CliUsageException("--account " + problem);
        }

        args.RejectUnknown(LedgerArguments.Options);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        var output = _output ?? Console.Out;
        var count = 0;
        long? before = null;
        do
        {
            var page = await CorrectionStore.ListAsync(db, account, before, PageSize, cancellationToken).ConfigureAwait(false);
            foreach (var c in page.Corrections)
            {
                await output.WriteLineAsync($"{c.Id}: {CorrectCommand.Describe(c)}").ConfigureAwait(false);
                count++;
            }

            before = page.NextBefore;
        }
        while (before is not null);

        Console.Error.WriteLine($"corrections list: {count} correction(s) of account {account}");
        return 0;
    }
}
