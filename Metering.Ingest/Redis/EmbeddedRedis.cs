using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Metering.Ingest.Redis;

/// <summary>
/// A private redis-server (Debian's package) on a free loopback port, without persistence, for benchmarks and
/// local runs that have no Redis configured. Stopped (SIGKILL: nothing to save) on dispose.
/// </summary>
public sealed class EmbeddedRedis : IDisposable
{
    private readonly Process _server;

    private EmbeddedRedis(Process server, int port)
    {
        _server = server;
        Port = port;
    }

    /// <summary>The port it listens on.</summary>
    public int Port { get; }

    /// <summary>"127.0.0.1:PORT".</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>A free loopback port (for a server to start on now).</summary>
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>
    /// Starts redis-server on <paramref name="port"/> (default: a free one) and waits until it accepts connections.
    /// A fixed port lets a test restart "the same" Redis after killing it.
    /// </summary>
    public static async Task<EmbeddedRedis> StartAsync(CancellationToken cancellationToken, int? port = null)
    {
        var listenPort = port ?? FreePort();

        var info = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--port", listenPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" })
        {
            info.ArgumentList.Add(a);
        }

        Process server;
        try
        {
            server = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("redis-server is not installed (apt-get install redis-server; scripts/*.sh do it)", e);
        }

        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        var redis = new EmbeddedRedis(server, listenPort);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, listenPort, cancellationToken).ConfigureAwait(false);
                return redis;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !server.HasExited)
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                redis.Dispose();
                throw;
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_server.HasExited)
        {
            _server.Kill();
            _server.WaitForExit();
        }

        _server.Dispose();
    }
}
