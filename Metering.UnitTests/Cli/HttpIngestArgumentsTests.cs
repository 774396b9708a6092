using Metering.Cli.Arguments;
using Metering.Web.HttpIngest;

namespace Metering.UnitTests.Cli;

public sealed class HttpIngestArgumentsTests
{
    private static CliArguments Args(params string[] args) => CliArguments.Parse(args, _ => null);

    [Fact]
    public void Without_bootstrap_servers_ingest_is_not_configured()
    {
        Assert.Null(HttpIngestArguments.Create(Args("--ingest-max-records", "5"), null));
    }

    [Fact]
    public void Options_reach_the_service_and_inconsistent_limits_are_usage_errors()
    {
        using (var service = HttpIngestArguments.Create(Args("--bootstrap-servers", "127.0.0.1:1", "--topic", "t", "--ingest-max-records", "50", "--ingest-max-inflight-records", "100", "--ingest-max-body-bytes", "4096", "--max-line-bytes", "512", "--max-future-skew", "1m"), null))
        {
            Assert.NotNull(service);
            Assert.Equal("t", service.Options.Topic);
            Assert.Equal(50, service.Options.MaxRecords);
            Assert.Equal(100, service.Options.MaxInflightRecords);
            Assert.Equal(4096, service.Options.MaxBodyBytes);
            Assert.Equal(512, service.Options.Decoder.MaxLineBytes);
            Assert.Equal(TimeSpan.FromMinutes(1), service.Options.Decoder.MaxFutureSkew);
        }

        var e = Assert.Throws<CliUsageException>(() => HttpIngestArguments.Create(Args("--bootstrap-servers", "127.0.0.1:1", "--ingest-max-records", "50", "--ingest-max-inflight-records", "10"), null));
        Assert.Contains("--ingest-max-inflight-records", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Api_keys_file_holds_hashes_and_a_bad_entry_is_named()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, $$"""[{"id":"edge-eu","key_sha256":"{{ApiKeyStore.Hash("k1")}}","accounts":["acct-1"]},{"id":"all","key_sha256":"{{ApiKeyStore.Hash("k2")}}","accounts":null}]""");
            using var service = HttpIngestArguments.Create(Args("--bootstrap-servers", "127.0.0.1:1", "--api-keys-file", path), null);
            Assert.Equal("edge-eu", service!.ApiKeys!.Find("k1")!.Id);
            Assert.Equal(["acct-1"], service.ApiKeys.Find("k1")!.Accounts!);
            Assert.Null(service.ApiKeys.Find("k2")!.Accounts);
            Assert.Null(service.ApiKeys.Find("k3"));

            File.WriteAllText(path, """[{"id":"x","key_sha256":"abcd"}]""");
            var e = Assert.Throws<CliUsageException>(() => HttpIngestArguments.Create(Args("--bootstrap-servers", "127.0.0.1:1", "--api-keys-file", path), null));
            Assert.Contains("[0] (x)", e.Message, StringComparison.Ordinal);
            Assert.Contains("64 hex digits", e.Message, StringComparison.Ordinal);

            File.WriteAllText(path, $$"""[{"id":"x","key_sha256":"{{ApiKeyStore.Hash("a")}}"},{"id":"x","key_sha256":"{{ApiKeyStore.Hash("b")}}"}]""");
            e = Assert.Throws<CliUsageException>(() => HttpIngestArguments.Create(Args("--bootstrap-servers", "127.0.0.1:1", "--api-keys-file", path), null));
            Assert.Contains("appears twice", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
