using System.Net;
using System.Net.Sockets;
using Metering.Cli;
using Metering.DevKit;
using Metering.DevKit.Postgres;
using Metering.DevKit.Redis;

namespace Metering.Tests.Cli;

/// <summary>
/// Start-up failures and command-line mistakes end with one line and an exit code, never a stack trace, and a mistake
/// is caught before anything (the embedded PostgreSQL above all) is started.
/// </summary>
public class CliStartupTests
{
    private static string FreshDirectory(string what) => Path.Combine(Path.GetTempPath(), $"metering-{what}-" + Guid.NewGuid().ToString("N")[..8]);

    private static async Task<(int Code, string Stderr)> Run(params string[] args)
    {
        using var stderr = new StringWriter();
        var code = await Program.RunAsync(args, TextWriter.Null, stderr, CancellationToken.None);
        return (code, stderr.ToString());
    }

    [Theory]
    [InlineData("run")]
    [InlineData("run --no-analytics")]
    [InlineData("verify")]
    [InlineData("stream --bootstrap-servers 127.0.0.1:1")]
    [InlineData("export")]
    [InlineData("reconcile --period 2026-01")]
    [InlineData("period close --period 2026-01")]
    [InlineData("quota list")]
    [InlineData("quota remove --id 1")]
    [InlineData("quota set --account a --metric quantity --sku s --threshold 1")]
    [InlineData("alerts dispatch --webhook http://127.0.0.1:1/")]
    [InlineData("bench --freshness")]
    [InlineData("bench --pipeline --rounds 1")]
    public async Task An_unknown_option_is_a_usage_error_before_the_embedded_postgres_starts(string command)
    {
        var pgDir = FreshDirectory("pg-never");
        try
        {
            var (code, stderr) = await Run([.. command.Split(' '), "--pg-dir", pgDir, "--bogus-option", "1"]);
            Assert.Equal(2, code);
            Assert.Contains("unknown option --bogus-option", stderr, StringComparison.Ordinal);
            Assert.False(Directory.Exists(pgDir), $"{command}: the embedded PostgreSQL was set up in {pgDir} before the usage error");
        }
        finally
        {
            if (Directory.Exists(pgDir))
            {
                await new EmbeddedPostgres(pgDir).StopAsync();
                Directory.Delete(pgDir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Stream_with_a_busy_metrics_listen_port_exits_2_with_one_line_before_starting_postgres()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var pgDir = FreshDirectory("pg-never");
        try
        {
            var (code, stderr) = await Run("stream", "--bootstrap-servers", "127.0.0.1:1", "--metrics-listen", $"http://127.0.0.1:{port}", "--pg-dir", pgDir);
            Assert.Equal(2, code);
            Assert.Single(stderr.TrimEnd().Split('\n'));
            Assert.Contains($"--metrics-listen http://127.0.0.1:{port}", stderr, StringComparison.Ordinal);
            Assert.Contains("address already in use", stderr, StringComparison.OrdinalIgnoreCase);
            Assert.False(Directory.Exists(pgDir));
        }
        finally
        {
            if (Directory.Exists(pgDir))
            {
                await new EmbeddedPostgres(pgDir).StopAsync();
                Directory.Delete(pgDir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Serve_with_a_busy_listen_port_exits_2_with_one_line_before_starting_postgres()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var pgDir = FreshDirectory("pg-never-serve");
        try
        {
            var (code, stderr) = await Run("serve", "--listen", $"http://127.0.0.1:{port}", "--jwt-issuer", "i", "--jwt-audience", "a",
                "--jwt-key", "base64:" + Convert.ToBase64String(new byte[32]), "--pg-dir", pgDir);
            Assert.Equal(2, code);
            Assert.Single(stderr.TrimEnd().Split('\n'));
            Assert.Contains($"--listen http://127.0.0.1:{port}", stderr, StringComparison.Ordinal);
            Assert.Contains("address already in use", stderr, StringComparison.OrdinalIgnoreCase);
            Assert.False(Directory.Exists(pgDir));
        }
        finally
        {
            if (Directory.Exists(pgDir))
            {
                await new EmbeddedPostgres(pgDir).StopAsync();
                Directory.Delete(pgDir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task An_unreachable_configured_postgres_is_one_line_exit_1_without_the_password()
    {
        var (code, stderr) = await Run("verify", "--pg", "Host=127.0.0.1;Port=1;Username=u;Password=s3cret-value;Database=ledger;Timeout=3");
        Assert.Equal(1, code);
        Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.Contains("127.0.0.1:1/ledger", stderr, StringComparison.Ordinal);
        Assert.Contains("--pg", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-value", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Redis_on_a_port_another_program_holds_is_a_one_line_dependency_error()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(() => EmbeddedRedis.StartAsync(CancellationToken.None, port));
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task The_real_executable_reports_a_missing_redis_server_and_a_missing_chdb_in_one_line_each_exit_1()
    {
        var cwd = Path.GetTempPath();
        // No PATH: redis-server cannot be found (the dotnet host is named by its full path).
        var redis = await MeteringProcess.RunAsync(cwd, new Dictionary<string, string> { ["PATH"] = "/nonexistent" }, "bench", "--redis-dedup", "--ids", "10000", "--rounds", "1");
        Assert.Equal(1, redis.Code);
        Assert.Single(redis.Stderr.TrimEnd().Split('\n'));
        Assert.Contains("redis-server is not installed", redis.Stderr, StringComparison.Ordinal);

        var clickhouseDir = FreshDirectory("ch-never");
        var chdb = await MeteringProcess.RunAsync(cwd, new Dictionary<string, string> { ["METERING_CHDB_LIB"] = "/nonexistent/libchdb.so" },
            "usage", "--account", "a", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z", "--clickhouse-dir", clickhouseDir);
        if (Directory.Exists(clickhouseDir))
        {
            Directory.Delete(clickhouseDir, recursive: true);
        }

        Assert.Equal(1, chdb.Code);
        Assert.Single(chdb.Stderr.TrimEnd().Split('\n'));
        Assert.Contains("/nonexistent/libchdb.so", chdb.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", chdb.Stderr, StringComparison.Ordinal);
    }
}
