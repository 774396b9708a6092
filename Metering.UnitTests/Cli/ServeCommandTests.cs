
using Metering.Cli;

namespace Metering.UnitTests.Cli;

public sealed class ServeCommandTests
{
    private static async Task<(int Code, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await Program.RunAsync(args, stdout, stderr, CancellationToken.None);
        return (code, stderr.ToString());
    }

    [Fact]
    public async Task Serve_without_jwt_configuration_is_a_usage_error_naming_the_option()
    {
        if (Environment.GetEnvironmentVariable("METERING_JWT_ISSUER") is not null)
        {
            return;
        }

        var (code, err) = await Run("serve", "--jwt-audience", "a", "--jwt-key-file", "k");
        Assert.Equal(2, code);
        Assert.Contains("--jwt-issuer", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_refuses_a_signing_key_shorter_than_32_bytes()
    {
        var key = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(key, new byte[16]);
            var (code, err) = await Run("serve", "--jwt-issuer", "i", "--jwt-audience", "a", "--jwt-key-file", key);
            Assert.Equal(2, code);
            Assert.Contains("at least 32 bytes", err, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(key);
        }
    }

    [Fact]
    public async Task Inline_key_is_utf8_or_base64_and_given_once()
    {
        var raw = new byte[32];
        raw[0] = 0xFF;
        Assert.Equal(raw, await Metering.Cli.Commands.ServeCommand.SigningKey(null, "base64:" + Convert.ToBase64String(raw), CancellationToken.None));
        Assert.Equal(32, (await Metering.Cli.Commands.ServeCommand.SigningKey(null, new string('k', 32), CancellationToken.None)).Length);
        await Assert.ThrowsAsync<Metering.Cli.Arguments.CliUsageException>(() => Metering.Cli.Commands.ServeCommand.SigningKey(null, "base64:AAAA", CancellationToken.None));
        await Assert.ThrowsAsync<Metering.Cli.Arguments.CliUsageException>(() => Metering.Cli.Commands.ServeCommand.SigningKey(null, "base64:%%%", CancellationToken.None));
        await Assert.ThrowsAsync<Metering.Cli.Arguments.CliUsageException>(() => Metering.Cli.Commands.ServeCommand.SigningKey("f", new string('k', 32), CancellationToken.None));
        await Assert.ThrowsAsync<Metering.Cli.Arguments.CliUsageException>(() => Metering.Cli.Commands.ServeCommand.SigningKey(null, null, CancellationToken.None));
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "base64:" + Convert.ToBase64String(raw) + "\n");
            Assert.Equal(raw, await Metering.Cli.Commands.ServeCommand.SigningKey(file, null, CancellationToken.None));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
