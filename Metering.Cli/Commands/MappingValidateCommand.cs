using Metering.Cli.Arguments;
using Metering.Ingest.CloudEvents;

namespace Metering.Cli.Commands;

/// <summary><c>metering mapping validate</c>: checks a CloudEvents mapping file and prints every problem with its JSON path.</summary>
public sealed class MappingValidateCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["mapping", "validate"];

    public string Summary => "validate a CloudEvents mapping (--event-mapping) and print every problem with its JSON path";

    public string Usage => "usage: metering mapping validate FILE\n\n" +
        "  FILE                       the mapping: per CloudEvents type, the SKU and where account, quantity and\n" +
        "                             dimensions come from (docs/cloudevents.md)\n" +
        "\nexit codes: 0 valid (a line 'FILE: OK: ...' on stdout), 1 problems found (each on stderr as 'FILE: $.path: message'), 2 usage error";

    public Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        args.RejectUnknown();
        if (args.Positional.Count != 1)
        {
            throw new CliUsageException("give exactly one mapping FILE");
        }

        var path = args.Positional[0];
        if (!File.Exists(path))
        {
            throw new CliUsageException($"{path}: no such file");
        }

        var (mapping, errors) = EventMapping.Validate(File.ReadAllBytes(path));
        foreach (var e in errors)
        {
            Console.Error.WriteLine($"{path}: {e}");
        }

        if (mapping is null)
        {
            return Task.FromResult(1);
        }

        Console.Out.WriteLine($"{path}: OK: {mapping.Types.Count} type(s): " +
            string.Join(", ", mapping.Types.Values.OrderBy(t => t.Type, StringComparer.Ordinal).Select(t => $"{t.Type} -> {t.Sku} (quantity {t.Quantity.Text}, account {t.Account.Text}{(t.Dimensions.Count > 0 ? ", " + t.Dimensions.Count + " dimension(s)" : "")})")));
        return Task.FromResult(0);
    }
}
