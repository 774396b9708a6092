using Metering.Cli.Arguments;
using Metering.Ledger.Accounts;
using Metering.Rating.Accounts;

namespace Metering.Cli.Commands;

/// <summary><c>metering account list</c>: prints every account with terms, ordered by id.</summary>
public sealed class AccountListCommand : ICliCommand
{
    private const int PageSize = 1000;

    private readonly TextWriter? _output;

    /// <summary>Writes to the console.</summary>
    public AccountListCommand()
    {
    }

    /// <summary>Writes its output to <paramref name="output"/> (tests).</summary>
    public AccountListCommand(TextWriter output) => _output = output;

    public IReadOnlyList<string> Name { get; } = ["account", "list"];

    public string Summary => "list the accounts with terms (accounts without terms are billed on the list book)";

    public string Usage => "usage: metering account list [ledger options]\n\n" +
        LedgerArguments.Usage +
        "\nOne line per account, ordered by id: account, currency, books, subscription, billing-period anchor and zone.";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        args.RejectUnknown(LedgerArguments.Options);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        var output = _output ?? Console.Out;
        var count = 0;
        string? after = null;
        do
        {
            var page = await AccountStore.ListAsync(db, after, PageSize, cancellationToken).ConfigureAwait(false);
            foreach (var account in page.Accounts)
            {
                await output.WriteLineAsync($"{account.Terms.Account}: {Describe(account.Terms)}").ConfigureAwait(false);
                count++;
            }

            after = page.NextAfter;
        }
        while (after is not null);

        Console.Error.WriteLine($"account list: {count} account(s)");
        return 0;
    }

    /// <summary>"EUR, list book edge-list, contract book c1, from 2026-11-15T00:00:00Z to ..., periods from day 15 at 00:00 Europe/Berlin".</summary>
    internal static string Describe(AccountTerms terms)
    {
        var books = terms.ContractBook is null ? $"list book {terms.ListBook}" : $"list book {terms.ListBook}, contract book {terms.ContractBook}";
        var until = terms.End is { } end ? " to " + AccountTerms.Format(end) : "";
        var periods = (terms.AnchorDay, terms.TimeZone) switch
        {
            (null, null) => "periods of the list book",
            (var day, var zone) => $"periods from day {(day is null ? "(list book's)" : day.Value.ToString(System.Globalization.CultureInfo.InvariantCulture))} at 00:00 {zone ?? "UTC"}",
        };
        return $"{terms.Currency.Code}, {books}, from {AccountTerms.Format(terms.Start)}{until}, {periods}";
    }
}
