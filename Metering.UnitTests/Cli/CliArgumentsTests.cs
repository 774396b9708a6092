using Metering.Cli.Arguments;
using Metering.Cli;

namespace Metering.UnitTests.Cli;

public class CliArgumentsTests
{
    private static Func<string, string?> Environment(params (string Name, string Value)[] variables)
    {
        var map = variables.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);
        return name => map.GetValueOrDefault(name);
    }

    [Fact]
    public async Task Unknown_command_exits_2_and_names_it()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await Program.RunAsync(["frobnicate"], stdout, stderr, CancellationToken.None);
        Assert.Equal(2, code);
        Assert.Contains("frobnicate", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_variable_name_is_the_option_upper_cased_with_underscores()
    {
        Assert.Equal("METERING_FLUSH_INTERVAL", CliArguments.EnvironmentVariableFor("flush-interval"));
        Assert.Equal("METERING_PG", CliArguments.EnvironmentVariableFor("pg"));
        Assert.Equal("METERING_BOOTSTRAP_SERVERS", CliArguments.EnvironmentVariableFor("bootstrap-servers"));
    }

    [Fact]
    public void Option_missing_from_the_command_line_falls_back_to_its_environment_variable()
    {
        var args = CliArguments.Parse([], Environment(
            ("METERING_BOOTSTRAP_SERVERS", "kafka-0:9092,kafka-1:9092"),
            ("METERING_FLUSH_INTERVAL", "5s"),
            ("METERING_KEY_LIMIT", "2_000_000"),
            ("METERING_DUPLICATES", "0.25")));
        Assert.Equal("kafka-0:9092,kafka-1:9092", args.Required("bootstrap-servers"));
        Assert.Equal(TimeSpan.FromSeconds(5), args.Duration("flush-interval", TimeSpan.FromSeconds(1)));
        Assert.Equal(2_000_000, args.Int64("key-limit", 4_000_000));
        Assert.Equal(0.25m, args.Decimal("duplicates", 0.01m));
        Assert.Equal("usage", args.String("topic", "usage")); // neither given: the default
        args.RejectUnknown();
    }

    [Fact]
    public void Command_line_wins_over_the_environment()
    {
        var args = CliArguments.Parse(["--flush-interval", "2s", "--group=billing"], Environment(
            ("METERING_FLUSH_INTERVAL", "5s"),
            ("METERING_GROUP", "from-env")));
        Assert.Equal(TimeSpan.FromSeconds(2), args.Duration("flush-interval", TimeSpan.FromSeconds(1)));
        Assert.Equal("billing", args.String("group", "metering"));
    }

    [Fact]
    public void Empty_environment_variable_counts_as_absent()
    {
        var args = CliArguments.Parse([], Environment(("METERING_PG", ""), ("METERING_TOPIC", "")));
        Assert.Null(args.String("pg"));
        Assert.Equal("usage", args.String("topic", "usage"));
        Assert.False(args.Has("pg"));
        var error = Assert.Throws<CliUsageException>(() => CliArguments.Parse([], Environment(("METERING_INPUT", ""))).Required("input"));
        Assert.Contains("METERING_INPUT", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Switch_from_the_environment_is_on_unless_0_or_false()
    {
        Assert.True(CliArguments.Parse([], Environment(("METERING_PERIOD_LINES", "1"))).Has("period-lines"));
        Assert.True(CliArguments.Parse([], Environment(("METERING_PERIOD_LINES", "true"))).Has("period-lines"));
        Assert.False(CliArguments.Parse([], Environment(("METERING_PERIOD_LINES", "0"))).Has("period-lines"));
        Assert.False(CliArguments.Parse([], Environment(("METERING_PERIOD_LINES", "FALSE"))).Has("period-lines"));
        Assert.False(CliArguments.Parse([], Environment()).Has("period-lines"));
    }

    [Fact]
    public void RejectUnknown_ignores_environment_variables_and_still_catches_command_line_typos()
    {
        var environment = Environment(("METERING_SEEED", "1"), ("METERING_NOT_AN_OPTION", "x"), ("METERING_SEED", "7"));
        var clean = CliArguments.Parse(["--records", "10"], environment);
        Assert.Equal(10, clean.Int64("records", 0));
        clean.RejectUnknown(); // METERING_SEEED / METERING_NOT_AN_OPTION: read by no command, ignored

        var typo = CliArguments.Parse(["--seeed", "1"], environment);
        Assert.Equal(7, typo.Int64("seed", 42)); // from METERING_SEED: the typo on the command line does not count
        var error = Assert.Throws<CliUsageException>(typo.RejectUnknown);
        Assert.Contains("--seeed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_value_from_the_environment_is_a_usage_error_naming_the_variable()
    {
        var args = CliArguments.Parse([], Environment(("METERING_KEY_LIMIT", "lots"), ("METERING_FLUSH_INTERVAL", "soon"), ("METERING_RECORDS", "-5")));
        Assert.Contains("METERING_KEY_LIMIT", Assert.Throws<CliUsageException>(() => args.Int64("key-limit", 1)).Message, StringComparison.Ordinal);
        Assert.Contains("METERING_FLUSH_INTERVAL", Assert.Throws<CliUsageException>(() => args.Duration("flush-interval", TimeSpan.FromSeconds(1))).Message, StringComparison.Ordinal);
        Assert.Contains("METERING_RECORDS", Assert.Throws<CliUsageException>(() => args.Int64("records", 1, min: 1)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_rejects_a_max_records_per_flush_below_1_before_connecting_anywhere()
    {
        using var stderr = new StringWriter();
        var code = await Program.RunAsync(["stream", "--bootstrap-servers", "127.0.0.1:1", "--max-records-per-flush", "0"], TextWriter.Null, stderr, CancellationToken.None);
        Assert.Equal(2, code);
        Assert.Contains("--max-records-per-flush must be between 1 and", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Default_environment_is_the_process_environment()
    {
        // A name no other test or command reads, so setting it cannot disturb tests running in parallel.
        var option = "env-probe-" + Guid.NewGuid().ToString("N")[..8];
        var variable = CliArguments.EnvironmentVariableFor(option);
        System.Environment.SetEnvironmentVariable(variable, "from-process");
        try
        {
            Assert.Equal("from-process", CliArguments.Parse([]).String(option));
            Assert.Equal("from-command-line", CliArguments.Parse([$"--{option}", "from-command-line"]).String(option));
        }
        finally
        {
            System.Environment.SetEnvironmentVariable(variable, null);
        }
    }
}
