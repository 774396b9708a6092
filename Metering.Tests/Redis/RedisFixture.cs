using Metering.DevKit.Redis;
using StackExchange.Redis;

namespace Metering.Tests.Redis;

/// <summary>
/// A real redis-server (Debian's package; scripts/test.sh installs it) on a free loopback port, without persistence,
/// for the test run: the engine's own <see cref="EmbeddedRedis"/>. <see cref="KillAsync"/> and <see cref="StartAsync"/>
/// simulate an outage; the restarted server listens on the same port and has lost its data.
/// </summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private EmbeddedRedis? _server;

    /// <summary>The port the server listens on (kept across restarts).</summary>
    public int Port { get; } = EmbeddedRedis.FreePort();

    /// <summary>"127.0.0.1:PORT".</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>A multiplexer that reconnects by itself after an outage.</summary>
    public IConnectionMultiplexer Connect() =>
        ConnectionMultiplexer.Connect(new ConfigurationOptions
        {
            EndPoints = { Endpoint },
            AbortOnConnectFail = false,
            ConnectTimeout = 2_000,
            SyncTimeout = 2_000,
            AsyncTimeout = 2_000,
            ReconnectRetryPolicy = new LinearRetry(200),
        });

    public async Task InitializeAsync() => await StartAsync();

    public Task DisposeAsync() => KillAsync();

    /// <summary>Starts the server on <see cref="Port"/> and waits until it accepts connections.</summary>
    public async Task StartAsync() => _server = await EmbeddedRedis.StartAsync(CancellationToken.None, Port);

    /// <summary>SIGKILLs the server (its data is gone: no persistence).</summary>
    public Task KillAsync()
    {
        _server?.Dispose();
        _server = null;
        return Task.CompletedTask;
    }
}
