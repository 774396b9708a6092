using Metering.Cli.Arguments;
using Metering.Rating.PriceBooks;

namespace Metering.Cli.Commands;

/// <summary><c>metering pricebook validate</c>: checks price-book files and prints every problem with its JSON path.</summary>
public sealed class PriceBookValidateCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["pricebook", "validate"];

    public string Summary => "validate a price book (and contract books) and print every problem with its JSON path";

    public string Usage => "usage: metering pricebook validate FILE [--contracts FILE[,FILE...]]\n\n" +
        "  FILE                       the list price book\n" +
        "  --contracts FILES          contract books checked against it (comma-separated)\n" +
        "\nexit codes: 0 valid (a line 'FILE: OK: ...' per book on stdout), 1 problems found (each on stderr as 'FILE: $.path: message'), 2 usage error";

    public Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var contracts = (args.String("contracts") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        args.RejectUnknown();
        if (args.Positional.Count != 1)
        {
            throw new CliUsageException("give exactly one list price-book FILE");
        }

        var problems = 0;
        var listPath = args.Positional[0];
        var (list, errors) = Check(listPath, null, ref problems);
        foreach (var path in contracts)
        {
            if (list is null)
            {
                Console.Error.WriteLine($"{path}: not checked: the list book has problems");
                continue;
            }

            Check(path, list, ref problems);
        }

        _ = errors;
        return Task.FromResult(problems == 0 ? 0 : 1);
    }

    private static (PriceBook? Book, IReadOnlyList<PriceBookError> Errors) Check(string path, PriceBook? parent, ref int problems)
    {
        if (!File.Exists(path))
        {
            throw new CliUsageException($"{path}: no such file");
        }

        var (book, errors) = PriceBookLoader.Validate(File.ReadAllBytes(path), parent);
        foreach (var e in errors)
        {
            Console.Error.WriteLine($"{path}: {e}");
        }

        problems += errors.Count;
        if (book is not null)
        {
            Console.Out.WriteLine($"{path}: OK: '{book.Id}' ({book.Currency.Code}), {book.Versions.Count} version(s): " +
                string.Join(", ", book.Versions.Select(v => $"{v.Version} {v.Prices.Count} price(s) {v.Hash[..19]}…")));
        }

        return (book, errors);
    }
}
