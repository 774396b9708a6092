using System.Collections.Frozen;
using System.Security.Cryptography;

namespace Metering.Web.WebConsole;

/// <summary>
/// The console's static files (Console/Assets), embedded in this assembly so <c>metering serve</c> needs nothing on disk
/// and nothing from a CDN. Loaded once; each file carries its content type and a strong ETag over its bytes.
/// Thread-safe (immutable after construction).
/// </summary>
internal sealed class ConsoleAssets
{
    /// <summary>Prefix of the embedded resources' logical names (the csproj sets it).</summary>
    internal const string ResourcePrefix = "console/";

    private static readonly Lazy<ConsoleAssets> Instance = new(() => new ConsoleAssets());

    private readonly FrozenDictionary<string, ConsoleAsset> _files;

    private ConsoleAssets()
    {
        var assembly = typeof(ConsoleAssets).Assembly;
        var files = new Dictionary<string, ConsoleAsset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var file = name[ResourcePrefix.Length..];
            files[file] = new ConsoleAsset(bytes, ContentType(file), "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes))[..32] + "\"");
        }

        _files = files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The files of this build.</summary>
    public static ConsoleAssets Shared => Instance.Value;

    /// <summary>Names of every embedded file (flat: no folders).</summary>
    public IEnumerable<string> Names => _files.Keys;

    /// <summary>The file called <paramref name="name"/>, or null (unknown names, and every name with a path in it).</summary>
    public ConsoleAsset? Find(string name) => _files.GetValueOrDefault(name);

    // Only the kinds the console ships; anything else is not embedded (a test lists the files).
    private static string ContentType(string file) => Path.GetExtension(file) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        _ => throw new InvalidOperationException($"console asset '{file}' has no known content type: add it to ConsoleAssets.ContentType"),
    };
}
