using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Metering.Tests.WebConsole;

/// <summary>
/// A real headless Chromium (Debian's <c>chromium</c>, or <c>METERING_CHROMIUM</c>) driven over the DevTools protocol on
/// a WebSocket: one browser process with a private profile per instance, one page. Exceptions thrown by the page's
/// scripts and console errors (a Content-Security-Policy violation is one) are collected in <see cref="PageErrors"/>.
/// </summary>
internal sealed partial class HeadlessChromium : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly ConcurrentQueue<string> _pageErrors = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task _receiving = Task.CompletedTask;
    private int _nextId;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    /// <summary>Script exceptions and console errors seen so far.</summary>
    public IReadOnlyCollection<string> PageErrors => [.. _pageErrors];

    /// <summary>The browser binary: METERING_CHROMIUM, else Debian's chromium on PATH.</summary>
    public static string Binary()
    {
        var configured = Environment.GetEnvironmentVariable("METERING_CHROMIUM");
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        foreach (var candidate in new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("no Chromium: apt-get install -y chromium (scripts/test.sh and .ci/run install it), or set METERING_CHROMIUM to the binary");
    }

    public static async Task<HeadlessChromium> StartAsync(int width = 1280, int height = 900)
    {
        var profile = Path.Combine(Path.GetTempPath(), "metering-chromium-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(profile);
        var start = new ProcessStartInfo(Binary())
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start. Port 0: the browser picks a free one
        // and prints it. The rest keeps a fresh profile quiet (no first-run UI, no network for updates).
        foreach (var arg in new[]
        {
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
            "--remote-debugging-port=0", "--remote-allow-origins=*", $"--user-data-dir={profile}", $"--window-size={width},{height}", "about:blank",
        })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("chromium did not start");
        var browser = new HeadlessChromium(process, profile);
        try
        {
            _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
            var endpoint = await browser.DevToolsEndpointAsync();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            var targets = JsonNode.Parse(await http.GetStringAsync($"http://{endpoint}/json/list"))!.AsArray();
            var page = targets.FirstOrDefault(t => (string?)t!["type"] == "page") ?? throw new InvalidOperationException("chromium has no page target");
            await browser._socket.ConnectAsync(new Uri((string)page!["webSocketDebuggerUrl"]!), CancellationToken.None);
            browser._receiving = Task.Run(browser.ReceiveLoopAsync);
            await browser.SendAsync("Page.enable");
            await browser.SendAsync("Runtime.enable");
            await browser.SendAsync("Log.enable");
            await browser.SendAsync("Emulation.setDeviceMetricsOverride", new JsonObject { ["width"] = width, ["height"] = height, ["deviceScaleFactor"] = 1, ["mobile"] = false });
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID" on stderr, once the port is bound.
    private async Task<string> DevToolsEndpointAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seen = new StringBuilder();
        while (true)
        {
            var line = await _process.StandardError.ReadLineAsync(timeout.Token);
            if (line is null)
            {
                throw new InvalidOperationException($"chromium exited before listening (exit {(_process.HasExited ? _process.ExitCode : -1)}): {seen}");
            }

            seen.AppendLine(line);
            var match = DevToolsLine().Match(line);
            if (match.Success)
            {
                // Keep draining stderr so the browser never blocks on a full pipe.
                _ = Task.Run(async () =>
                {
                    while (await _process.StandardError.ReadLineAsync() is not null)
                    {
                    }
                });
                return match.Groups[1].Value;
            }
        }
    }

    [GeneratedRegex(@"DevTools listening on ws://([^/\s]+)/")]
    private static partial Regex DevToolsLine();

    /// <summary>Sends one DevTools command and returns its <c>result</c>; a protocol error throws.</summary>
    public async Task<JsonElement> SendAsync(string method, JsonObject? parameters = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var answer = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? [] };
        await _sendLock.WaitAsync();
        try
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            _sendLock.Release();
        }

        return await answer.Task.WaitAsync(CommandTimeout);
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[1 << 16];
        var message = new MemoryStream();
        try
        {
            while (_socket.State == WebSocketState.Open && !_stop.IsCancellationRequested)
            {
                var result = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }

                using var doc = JsonDocument.Parse(message.ToArray());
                message.SetLength(0);
                Dispatch(doc.RootElement);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
            // closing
        }

        foreach (var pending in _pending.Values)
        {
            pending.TrySetException(new InvalidOperationException("the DevTools connection closed"));
        }
    }

    private void Dispatch(JsonElement root)
    {
        if (root.TryGetProperty("id", out var idElement) && _pending.TryRemove(idElement.GetInt32(), out var answer))
        {
            if (root.TryGetProperty("error", out var error))
            {
                answer.TrySetException(new InvalidOperationException("DevTools: " + error.GetRawText()));
            }
            else
            {
                answer.TrySetResult(root.GetProperty("result").Clone());
            }

            return;
        }

        var method = root.TryGetProperty("method", out var m) ? m.GetString() : null;
        if (method == "Runtime.exceptionThrown")
        {
            _pageErrors.Enqueue("exception: " + root.GetProperty("params").GetProperty("exceptionDetails").GetRawText());
        }
        else if (method == "Log.entryAdded" && root.GetProperty("params").GetProperty("entry").GetProperty("level").GetString() == "error")
        {
            var entry = root.GetProperty("params").GetProperty("entry");
            var text = entry.GetProperty("text").GetString() ?? "";
            // A fetch the page handles (a 403 shown as a message) is logged as a failed resource load: not a script error.
            if (!(entry.TryGetProperty("source", out var source) && source.GetString() == "network"))
            {
                _pageErrors.Enqueue("log: " + text);
            }
        }
        else if (method == "Runtime.consoleAPICalled" && root.GetProperty("params").GetProperty("type").GetString() == "error")
        {
            _pageErrors.Enqueue("console.error: " + root.GetProperty("params").GetProperty("args").GetRawText());
        }
    }

    /// <summary>Loads <paramref name="url"/> in the page (a new document, unlike a hash change).</summary>
    public Task NavigateAsync(string url) => SendAsync("Page.navigate", new JsonObject { ["url"] = url });

    /// <summary>Evaluates <paramref name="expression"/> in the page (awaiting a promise) and returns its value as JSON.</summary>
    public async Task<JsonElement> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["awaitPromise"] = true, ["returnByValue"] = true });
        if (result.TryGetProperty("exceptionDetails", out var failed))
        {
            throw new InvalidOperationException($"page script failed: {expression}: {failed.GetRawText()}");
        }

        return result.GetProperty("result").TryGetProperty("value", out var value) ? value.Clone() : default;
    }

    /// <summary>Polls <paramref name="condition"/> (a JS expression) until it is true; fails with what the page shows.</summary>
    public async Task WaitForAsync(string condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var value = await EvaluateAsync($"(() => {{ try {{ return !!({condition}); }} catch {{ return false; }} }})()");
            if (value.ValueKind == JsonValueKind.True)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                var shown = await EvaluateAsync("document.getElementById('main') ? document.getElementById('main').innerText.slice(0, 2000) : document.body.innerText");
                throw new TimeoutException($"the page never met `{condition}`; it shows: {shown}; page errors: {string.Join(" | ", PageErrors)}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Types <paramref name="text"/> into the element <paramref name="selector"/> (focused first), as a user would.</summary>
    public async Task TypeAsync(string selector, string text)
    {
        await EvaluateAsync($"document.querySelector({JsonSerializer.Serialize(selector)}).focus()");
        await SendAsync("Input.insertText", new JsonObject { ["text"] = text });
    }

    /// <summary>Clicks the element <paramref name="selector"/> with a real mouse event at its centre.</summary>
    public async Task ClickAsync(string selector)
    {
        var box = await EvaluateAsync($"(() => {{ const e = document.querySelector({JsonSerializer.Serialize(selector)}); e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()");
        var (x, y) = (box[0].GetDouble(), box[1].GetDouble());
        foreach (var type in new[] { "mousePressed", "mouseReleased" })
        {
            await SendAsync("Input.dispatchMouseEvent", new JsonObject { ["type"] = type, ["x"] = x, ["y"] = y, ["button"] = "left", ["clickCount"] = 1 });
        }
    }

    /// <summary>Lets the page save downloads into <paramref name="directory"/>.</summary>
    public Task AllowDownloadsAsync(string directory) =>
        SendAsync("Browser.setDownloadBehavior", new JsonObject { ["behavior"] = "allow", ["downloadPath"] = directory });

    /// <summary>Saves a PNG of the whole page (beyond the viewport) to <paramref name="path"/>.</summary>
    public async Task ScreenshotAsync(string path)
    {
        var shot = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png", ["captureBeyondViewport"] = true });
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, Convert.FromBase64String(shot.GetProperty("data").GetString()!));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                try
                {
                    await SendAsync("Browser.close").WaitAsync(TimeSpan.FromSeconds(5));
                }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException or WebSocketException)
                {
                    // killed below
                }
            }
        }
        finally
        {
            await _stop.CancelAsync();
            _socket.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync();
            _process.Dispose();
            _stop.Dispose();
            _sendLock.Dispose();
            try
            {
                Directory.Delete(_profile, recursive: true);
            }
            catch (IOException)
            {
                // a crashpad file still open: the temp directory is the OS's to clean
            }
        }
    }
}
