using Metering.Aggregates.Admission;
using Metering.Cli.Arguments;

namespace Metering.UnitTests.Cli;

public sealed class UnknownAccountArgumentsTests
{
    private static CliArguments Args(Func<string, string?> environment, params string[] args) => CliArguments.Parse(args, environment);

    private static CliArguments Args(params string[] args) => Args(_ => null, args);

    [Fact]
    public void The_edge_and_the_engine_read_the_same_unknown_account_setting_from_one_variable()
    {
        var environment = (string name) => name == "METERING_UNKNOWN_ACCOUNT" ? "reject" : null;
        var edge = HttpIngestArguments.Read(Args(environment, "--bootstrap-servers", "127.0.0.1:1"));
        var (engine, _) = PipelineArguments.Pipeline(Args(environment));
        Assert.Equal(UnknownAccountPolicy.Reject, edge!.Value.Options.UnknownAccounts);
        Assert.Equal(UnknownAccountPolicy.Reject, engine.UnknownAccounts);
        Assert.Equal(UnknownAccountPolicy.Auto, PipelineArguments.Pipeline(Args()).Options.UnknownAccounts);
        Assert.Equal(UnknownAccountPolicy.Auto, HttpIngestArguments.Read(Args("--bootstrap-servers", "127.0.0.1:1"))!.Value.Options.UnknownAccounts);
    }

    [Fact]
    public void A_bad_policy_or_refresh_is_a_usage_error_naming_the_option()
    {
        var e = Assert.Throws<CliUsageException>(() => PipelineArguments.Pipeline(Args("--unknown-account", "create")));
        Assert.Contains("--unknown-account must be 'auto' or 'reject', got 'create'", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<CliUsageException>(() => PipelineArguments.AccountRefresh(Args("--account-refresh", "10ms")));
        Assert.Contains("--account-refresh must be at least 100ms", e.Message, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(30), PipelineArguments.AccountRefresh(Args("--account-refresh", "30s")));
    }

    [Fact]
    public void Commands_without_the_ledger_accounts_refuse_reject_instead_of_refusing_every_record()
    {
        var (options, _) = PipelineArguments.Pipeline(Args("--unknown-account", "reject"));
        var e = Assert.Throws<CliUsageException>(() => PipelineArguments.RefuseAccountRejection(options, "aggregate"));
        Assert.Contains("aggregate has no accounts", e.Message, StringComparison.Ordinal);
        PipelineArguments.RefuseAccountRejection(PipelineArguments.Pipeline(Args()).Options, "aggregate");
    }
}
