using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Metering.DevKit.Redis;

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
    /// Starts redis-server on <paramref name="port"/> (default: a free one) and waits until it answers PING.
    /// A fixed port lets a test restart "the same" Redis after killing it. A server that is missing, exits (e.g. the
    /// port is taken) or does not answer within 20 s is a <see cref="DependencyUnavailableException"/> with one line.
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
            throw new DependencyUnavailableException("redis-server is not installed: apt-get install redis-server (scripts/*.sh do it), or give --redis HOST:PORT", e);
        }

        // The last lines it printed say why it stopped (e.g. "Address already in use"); nothing else is kept.
        var output = new ConcurrentQueue<string>();
        void Keep(string? line)
        {
            if (!string.IsNullOrWhiteSpace(line))
            {
                output.Enqueue(line.Trim());
                while (output.Count > 5 && output.TryDequeue(out _))
                {
                }
            }
        }

        server.OutputDataReceived += (_, e) => Keep(e.Data);
        server.ErrorDataReceived += (_, e) => Keep(e.Data);
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        var redis = new EmbeddedRedis(server, listenPort);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        try
        {
            // PING, not just a TCP connect: a port someone else holds accepts connections but never says PONG.
            while (!await AnswersPingAsync(listenPort, cancellationToken).ConfigureAwait(false))
            {
                if (server.HasExited || DateTime.UtcNow > deadline)
                {
                    var why = server.HasExited ? $"exited with code {server.ExitCode}" : "did not answer PING within 20 s";
                    var last = output.LastOrDefault(l => l.Contains('#', StringComparison.Ordinal)) ?? output.LastOrDefault() ?? "no output";
                    throw new DependencyUnavailableException($"redis-server on 127.0.0.1:{listenPort} {why}: {last}");
                }

                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }

            return redis;
        }
        catch
        {
            redis.Dispose();
            throw;
        }
    }

    private static async Task<bool> AnswersPingAsync(int port, CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(1));
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token).ConfigureAwait(false);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token).ConfigureAwait(false);
            var buffer = new byte[7];
            var read = 0;
            while (read < buffer.Length)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(read), timeout.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return false;
                }

                read += n;
            }

            return buffer.AsSpan().SequenceEqual("+PONG\r\n"u8);
        }
        catch (Exception e) when (e is SocketException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return false;
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
