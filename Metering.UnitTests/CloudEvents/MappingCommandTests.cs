using Metering.Cli;

namespace Metering.UnitTests.CloudEvents;

public sealed class MappingCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mapping-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    private static async Task<(int Code, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await Program.RunAsync(args, stdout, stderr, CancellationToken.None);
        return (code, stderr.ToString());
    }

    [Fact]
    public async Task Mapping_validate_exits_0_for_a_valid_file_and_1_for_problems()
    {
        var good = File("good.json", CloudEventTestKit.MappingJson);
        var bad = File("bad.json", """{"types":{"t":{"sku":"s","account":"subject"}}}""");

        Assert.Equal(0, (await Run("mapping", "validate", good)).Code);
        Assert.Equal(1, (await Run("mapping", "validate", bad)).Code);
        Assert.Equal(2, (await Run("mapping", "validate", Path.Combine(_dir, "absent.json"))).Code);
    }

    [Fact]
    public async Task An_invalid_event_mapping_stops_stream_before_it_connects_naming_the_json_path()
    {
        var bad = File("bad.json", """{"types":{"t":{"sku":"s","account":"subject","quantity":"bytes.out"}}}""");

        var (code, err) = await Run("stream", "--bootstrap-servers", "127.0.0.1:1", "--event-mapping", bad);

        Assert.Equal(2, code);
        Assert.Contains("$.types[\"t\"].quantity: 'bytes.out' is neither a JSON path", err, StringComparison.Ordinal);
    }
}
