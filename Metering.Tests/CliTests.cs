using Metering.Ingest;

namespace Metering.Tests;

public class CliTests
{
    [Fact]
    public async Task Unknown_command_exits_2_and_names_it()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await Program.RunAsync(["frobnicate"], stdout, stderr, CancellationToken.None);
        Assert.Equal(2, code);
        Assert.Contains("frobnicate", stderr.ToString(), StringComparison.Ordinal);
    }
}
