using Microsoft.IdentityModel.Tokens;

namespace Metering.Web.Api;

/// <summary>
/// The RS256/ES256 verification keys of an identity provider, from a JWKS document (RFC 7517) in a file or at an
/// http(s) URL, beside the static HS256 key (docs/api.md). Read at start (a document that cannot be read or holds no
/// usable key is a start-up error), then again every <see cref="RefreshInterval"/> so a provider's key rotation is
/// followed without a restart; a token naming a key id not in the set asks for an early refresh (at most one per
/// <see cref="MinimumRefreshGap"/>). A failed refresh keeps the last good set and is reported on the error writer:
/// the provider being briefly down must not lock every user out. Thread-safe: the set is swapped whole.
/// </summary>
public sealed class JwksKeySource : IAsyncDisposable
{
    private static readonly HashSet<string> SupportedTypes = new(StringComparer.Ordinal) { "RSA", "EC" };

    private readonly string _location;
    private readonly HttpClient? _http;
    private readonly TextWriter _errors;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private volatile IReadOnlyList<SecurityKey> _keys = [];
    private long _lastRefreshTicks;
    private Task _refreshLoop = Task.CompletedTask;

    private JwksKeySource(string location, TimeSpan refreshInterval, TextWriter errors)
    {
        _location = location;
        _errors = errors;
        RefreshInterval = refreshInterval;
        _http = IsUrl(location) ? new HttpClient { Timeout = TimeSpan.FromSeconds(10) } : null;
    }

    /// <summary>How often the document is read again.</summary>
    public TimeSpan RefreshInterval { get; }

    /// <summary>The shortest time between two refreshes asked for by unknown key ids.</summary>
    public static TimeSpan MinimumRefreshGap { get; } = TimeSpan.FromSeconds(30);

    /// <summary>The keys of the last good read (RSA and EC keys meant for signatures; others are skipped).</summary>
    public IReadOnlyList<SecurityKey> Keys => _keys;

    /// <summary>Where the document is read from.</summary>
    public string Location => _location;

    /// <summary>Reads <paramref name="location"/> (a file path or an http(s) URL) now and starts the refresh loop.</summary>
    /// <exception cref="InvalidDataException">the document cannot be read, is not a JWKS, or holds no RSA/EC signing key.</exception>
    public static async Task<JwksKeySource> StartAsync(string location, TimeSpan refreshInterval, TextWriter errors, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        ArgumentNullException.ThrowIfNull(errors);
        if (refreshInterval < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(refreshInterval), refreshInterval, "the JWKS refresh interval must be at least 1 s");
        }

        var source = new JwksKeySource(location, refreshInterval, errors);
        source._keys = await source.ReadAsync(cancellationToken).ConfigureAwait(false);
        source._lastRefreshTicks = Environment.TickCount64;
        source._refreshLoop = Task.Run(() => source.RefreshLoopAsync(source._stop.Token), CancellationToken.None);
        return source;
    }

    /// <summary>Reads the document again now; on failure keeps the current keys and returns false.</summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _keys = await ReadAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Exchange(ref _lastRefreshTicks, Environment.TickCount64);
            return true;
        }
        catch (InvalidDataException e)
        {
            Interlocked.Exchange(ref _lastRefreshTicks, Environment.TickCount64);
            await _errors.WriteLineAsync($"serve: JWKS {_location}: {e.Message}; keeping the {_keys.Count} key(s) read before").ConfigureAwait(false);
            return false;
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    /// <summary>
    /// The keys for a token naming <paramref name="kid"/>: the set's key with that id, or every key when the token names
    /// none. An unknown id starts an early refresh in the background (this answer stays the current set).
    /// </summary>
    public IEnumerable<SecurityKey> Resolve(string? kid)
    {
        var keys = _keys;
        if (string.IsNullOrEmpty(kid))
        {
            return keys;
        }

        var match = keys.Where(k => string.Equals(k.KeyId, kid, StringComparison.Ordinal)).ToList();
        if (match.Count == 0 && Environment.TickCount64 - Interlocked.Read(ref _lastRefreshTicks) >= (long)MinimumRefreshGap.TotalMilliseconds)
        {
            _ = RefreshAsync(_stop.Token);
        }

        return match;
    }

    private async Task RefreshLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(RefreshInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await RefreshAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    private async Task<IReadOnlyList<SecurityKey>> ReadAsync(CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = _http is null
                ? await File.ReadAllTextAsync(_location, cancellationToken).ConfigureAwait(false)
                : await _http.GetStringAsync(new Uri(_location), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or HttpRequestException or TaskCanceledException)
        {
            throw new InvalidDataException($"cannot read the JWKS document: {e.Message}", e);
        }

        JsonWebKeySet set;
        try
        {
            set = new JsonWebKeySet(text);
        }
        catch (Exception e) when (e is ArgumentException or System.Text.Json.JsonException)
        {
            throw new InvalidDataException($"not a JWKS document (RFC 7517, {{\"keys\": [...]}}): {e.Message}", e);
        }

        // Only public keys meant for signatures: an "enc" key or a symmetric ("oct") key from a document anyone may
        // fetch has no business verifying tokens.
        var keys = set.Keys.Where(k => SupportedTypes.Contains(k.Kty) && k.Use is null or "sig").Cast<SecurityKey>().ToList();
        return keys.Count > 0 ? keys : throw new InvalidDataException($"the JWKS document holds no RSA or EC signing key ({set.Keys.Count} key(s) of other kinds)");
    }

    private static bool IsUrl(string location) =>
        Uri.TryCreate(location, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https";

    /// <summary>Stops the refresh loop.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _refreshLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopped
        }

        _http?.Dispose();
        _stop.Dispose();
        _refreshLock.Dispose();
    }
}
