using Metering.Cli.Commands;

namespace Metering.Cli;

/// <summary>The list of every <c>metering</c> command. Add a command here and nowhere else.</summary>
public static class CommandRegistry
{
    /// <summary>All commands, in the order <c>metering help</c> prints them.</summary>
    public static IReadOnlyList<ICliCommand> All { get; } =
    [
        new RunCommand(),
        new GenerateCommand(),
        new AggregateCommand(),
        new BenchCommand(),
        new RateCommand(),
        new PriceBookValidateCommand(),
        new PriceBookPublishCommand(),
        new MappingValidateCommand(),
        new BrokerCommand(),
        new VerifyCommand(),
        new StreamCommand(),
        new PostgresCommand(),
        new ServeCommand(),
        new LoadgenCommand(),
        new PeriodCloseCommand(),
        new MigrateCommand(),
        new ExportCommand(),
        new ReconcileCommand(),
        new UsageCommand(),
        new QuotaSetCommand(),
        new QuotaListCommand(),
        new QuotaRemoveCommand(),
        new AccountSetCommand(),
        new AccountListCommand(),
        new StatementsExportCommand(),
        new CorrectCommand(Metering.Ledger.Corrections.CorrectionKind.Void),
        new CorrectCommand(Metering.Ledger.Corrections.CorrectionKind.Amend),
        new CorrectCommand(Metering.Ledger.Corrections.CorrectionKind.Credit),
        new CorrectCommand(Metering.Ledger.Corrections.CorrectionKind.Debit),
        new CorrectionsListCommand(),
        new RerateCommand(),
        new AlertsDispatchCommand(),
    ];
}
