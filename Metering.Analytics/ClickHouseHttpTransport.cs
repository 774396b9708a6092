using System.Net.Http.Headers;
using System.Text;

namespace Metering.Analytics;

/// <summary>
/// A ClickHouse server over its HTTP interface. DDL and queries are POSTed as the request body; an Arrow batch is
/// POSTed as the body of <c>INSERT ... FORMAT ArrowStream</c> (the statement in the <c>query</c> URL parameter);
/// query parameters travel as <c>param_NAME</c> URL parameters, bound by the server. Credentials, when given, go in
/// the X-ClickHouse-User / X-ClickHouse-Key headers. Thread-safe (HttpClient).
/// </summary>
public sealed class ClickHouseHttpTransport : IAnalyticsTransport
{
    private readonly HttpClient _http;
    private readonly bool _ownsClient;
    private readonly Uri _endpoint;
    private readonly string? _user;
    private readonly string? _password;

    /// <summary>Creates the transport for <paramref name="endpoint"/> (e.g. http://clickhouse:8123/).</summary>
    public ClickHouseHttpTransport(Uri endpoint, string? user = null, string? password = null, HttpClient? httpClient = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"ClickHouse URL '{endpoint}' must be http:// or https://", nameof(endpoint));
        }

        _endpoint = endpoint;
        _user = user;
        _password = password;
        _ownsClient = httpClient is null;
        _http = httpClient ?? new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
    }

    /// <inheritdoc />
    public string Description => $"ClickHouse server {_endpoint.GetLeftPart(UriPartial.Path)}";

    /// <inheritdoc />
    public async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sql);
        using var content = new StringContent(sql, Encoding.UTF8, "text/plain");
        _ = await SendAsync(Url([]), content, sql, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task InsertArrowAsync(string insertHead, ReadOnlyMemory<byte> arrowStream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(insertHead);
        var sql = insertHead + " FORMAT ArrowStream";
        using var content = new ReadOnlyMemoryContent(arrowStream);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.apache.arrow.stream");
        _ = await SendAsync(Url([new("query", sql)]), content, sql, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string?[]>> QueryAsync(string sql, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sql);
        ArgumentNullException.ThrowIfNull(parameters);
        var url = new List<KeyValuePair<string, string>> { new("default_format", ClickHouseWire.ResultFormat) };
        url.AddRange(parameters.Select(p => new KeyValuePair<string, string>("param_" + p.Key, ClickHouseWire.EscapeParameter(p.Value))));
        using var content = new StringContent(sql, Encoding.UTF8, "text/plain");
        var body = await SendAsync(Url(url), content, sql, cancellationToken).ConfigureAwait(false);
        return ClickHouseWire.ReadJsonCompact(body);
    }

    private Uri Url(IReadOnlyList<KeyValuePair<string, string>> parameters)
    {
        if (parameters.Count == 0)
        {
            return _endpoint;
        }

        var query = string.Join("&", parameters.Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value)));
        var builder = new UriBuilder(_endpoint);
        builder.Query = string.IsNullOrEmpty(builder.Query) || builder.Query == "?" ? query : builder.Query.TrimStart('?') + "&" + query;
        return builder.Uri;
    }

    private async Task<byte[]> SendAsync(Uri url, HttpContent content, string sql, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
        if (_user is not null)
        {
            request.Headers.Add("X-ClickHouse-User", _user);
        }

        if (_password is not null)
        {
            request.Headers.Add("X-ClickHouse-Key", _password);
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new ClickHouseException($"{Description}: {e.Message} (statement: {Shorten(sql)})", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ClickHouseException($"{Description}: timed out after {_http.Timeout.TotalSeconds:F0}s (statement: {Shorten(sql)})", e);
        }

        using (response)
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            // A failure after the headers were sent arrives with status 200 and the exception code in a header.
            if (!response.IsSuccessStatusCode || response.Headers.Contains("X-ClickHouse-Exception-Code"))
            {
                throw new ClickHouseException($"{Description}: HTTP {(int)response.StatusCode}: {Encoding.UTF8.GetString(body).Trim()} (statement: {Shorten(sql)})");
            }

            return body;
        }
    }

    private static string Shorten(string sql) => sql.Length <= 300 ? sql : sql[..300] + "...";

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsClient)
        {
            _http.Dispose();
        }
    }
}
