using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Metering.Ingest.Alerts;

namespace Metering.Tests.Alerts;

/// <summary>A webhook on 127.0.0.1 that records every request and answers with the queued status codes (then 200).</summary>
public sealed class RecordingWebhook : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;

    public RecordingWebhook(params int[] statuses)
    {
        foreach (var s in statuses)
        {
            Statuses.Enqueue(s);
        }

        for (var attempt = 0; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = new Uri($"http://127.0.0.1:{port}/alerts/");
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add(Url.ToString());
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                // the port was taken between the probe and the listener: try another
            }
        }

        _loop = Task.Run(ServeAsync);
    }

    public Uri Url { get; private set; } = null!;

    public ConcurrentQueue<int> Statuses { get; } = new();

    public ConcurrentQueue<(string? Id, string ContentType, string Body, int Status)> Requests { get; } = new();

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var status = Statuses.TryDequeue(out var s) ? s : 200;
            Requests.Enqueue((context.Request.Headers[AlertDispatcher.AlertIdHeader], context.Request.ContentType ?? "", body, status));
            context.Response.StatusCode = status;
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
