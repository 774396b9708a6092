using System.Xml.Linq;

namespace Metering.UnitTests.Architecture;

/// <summary>
/// The project references are the architecture (README, "Architecture"): each production project may reference only
/// the stages before it, and no production library references the development harness.
/// </summary>
public sealed class ProjectReferenceTests
{
    // Allowed references of each production project: a superset is refused, so a new edge is a decision made here.
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Metering.Aggregates"] = [],
        ["Metering.Rating"] = [],
        ["Metering.Ledger"] = ["Metering.Aggregates", "Metering.Rating"],
        ["Metering.Ingest"] = ["Metering.Aggregates", "Metering.Rating", "Metering.Ledger"],
        ["Metering.Analytics"] = ["Metering.Aggregates", "Metering.Rating", "Metering.Ledger"],
        ["Metering.Redis"] = ["Metering.Aggregates", "Metering.Ledger"],
        ["Metering.Web"] = ["Metering.Aggregates", "Metering.Rating", "Metering.Ledger", "Metering.Ingest", "Metering.Analytics", "Metering.Redis"],
        ["Metering.DevKit"] = ["Metering.Aggregates", "Metering.Rating", "Metering.Ledger", "Metering.Ingest", "Metering.Analytics", "Metering.Redis", "Metering.Web"],
        ["Metering.Cli"] = ["Metering.Aggregates", "Metering.Rating", "Metering.Ledger", "Metering.Ingest", "Metering.Analytics", "Metering.Redis", "Metering.Web", "Metering.DevKit"],
    };

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Metering.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Metering.sln not found above " + AppContext.BaseDirectory);
    }

    private static string[] ReferencesOf(string root, string project) =>
        XDocument.Load(Path.Combine(root, project, project + ".csproj"))
            .Descendants("ProjectReference")
            .Select(r => Path.GetFileNameWithoutExtension(r.Attribute("Include")!.Value.Replace('\\', '/')))
            .Order(StringComparer.Ordinal)
            .ToArray();

    [Fact]
    public void Every_production_project_references_only_the_stages_before_it()
    {
        var root = RepositoryRoot();
        foreach (var (project, allowed) in Allowed)
        {
            var extra = ReferencesOf(root, project).Except(allowed, StringComparer.Ordinal).ToArray();
            Assert.True(extra.Length == 0, $"{project} references {string.Join(", ", extra)}, which its stage may not");
        }
    }

    [Fact]
    public void No_production_library_references_the_devkit()
    {
        var root = RepositoryRoot();
        foreach (var project in Allowed.Keys.Where(p => p is not "Metering.Cli" and not "Metering.DevKit"))
        {
            Assert.DoesNotContain("Metering.DevKit", ReferencesOf(root, project));
        }
    }

    [Fact]
    public void Every_project_of_the_solution_is_known_to_this_test()
    {
        var root = RepositoryRoot();
        var inSolution = File.ReadAllLines(Path.Combine(root, "Metering.sln"))
            .Where(l => l.StartsWith("Project(", StringComparison.Ordinal))
            .Select(l => l.Split('"')[3])
            .Where(n => n is not "Metering.Tests" and not "Metering.UnitTests" and not "Metering.Benchmarks")
            .Order(StringComparer.Ordinal);
        Assert.Equal(Allowed.Keys.Order(StringComparer.Ordinal), inSolution);
    }
}
