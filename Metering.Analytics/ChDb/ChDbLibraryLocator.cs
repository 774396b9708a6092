namespace Metering.Analytics.ChDb;

/// <summary>
/// Finds <c>libchdb.so</c>: the file named by <c>METERING_CHDB_LIB</c>, else <c>.metering/native/chdb/package/libchdb.so</c>
/// (where <c>scripts/lib/prerequisites.sh</c>' <c>ensure_chdb</c> unpacks the npm package) under the working directory,
/// the program's directory, or any of their parents (so the repository root is found from bin/Release/...).
/// </summary>
public static class ChDbLibraryLocator
{
    /// <summary>Environment variable naming the library file explicitly.</summary>
    public const string EnvironmentVariable = "METERING_CHDB_LIB";

    /// <summary>Where the library sits relative to the repository root.</summary>
    public static readonly string ConventionalRelativePath = Path.Combine(".metering", "native", "chdb", "package", "libchdb.so");

    /// <summary>The library's path; throws <see cref="DllNotFoundException"/> naming every place looked at.</summary>
    public static string Locate()
    {
        var explicitPath = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(explicitPath))
        {
            return File.Exists(explicitPath)
                ? Path.GetFullPath(explicitPath)
                : throw new DllNotFoundException($"{EnvironmentVariable}={explicitPath}: no such file");
        }

        var looked = new List<string>();
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, ConventionalRelativePath);
                if (File.Exists(candidate))
                {
                    return candidate;
                }

                looked.Add(candidate);
            }
        }

        throw new DllNotFoundException(
            $"libchdb.so not found; run `source scripts/lib/prerequisites.sh && ensure_chdb` in the repository or set {EnvironmentVariable}. Looked at: {string.Join(", ", looked.Distinct())}");
    }
}
