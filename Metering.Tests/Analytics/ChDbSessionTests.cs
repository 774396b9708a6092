using System.Text;

namespace Metering.Tests.Analytics;

public sealed class ChDbSessionTests
{
    [Fact]
    public void Query_returns_output_and_errors_carry_the_message()
    {
        var s = ChDbShared.Session;
        Assert.Equal("2\n", Encoding.UTF8.GetString(s.Query("SELECT 1 + 1")));
        var e = Assert.Throws<Metering.Analytics.ClickHouseException>(() => s.Query("SELECT * FROM no_such_table_xyz"));
        Assert.Contains("no_such_table_xyz", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bound_parameters_are_not_interpolated()
    {
        var s = ChDbShared.Session;
        var evil = "x' OR 1=1 -- \\ \\t";
        var output = Encoding.UTF8.GetString(s.Query("SELECT {v:String}", "TSVRaw", [new("v", Metering.Analytics.ClickHouseWire.EscapeParameter(evil))]));
        Assert.Equal(evil + "\n", output);
    }

    [Fact]
    public void Managed_null_reference_is_still_caught_after_chdb_started()
    {
        _ = ChDbShared.Session;
        string? nothing = Environment.GetEnvironmentVariable("METERING_SURELY_UNSET_" + Guid.NewGuid().ToString("N"));
        Assert.Throws<NullReferenceException>(() => nothing!.Length);
    }

    [Fact]
    public void A_second_data_directory_in_the_same_process_is_refused_and_the_same_one_is_shared()
    {
        var s = ChDbShared.Session;
        var e = Assert.Throws<InvalidOperationException>(() => Metering.Analytics.ChDb.ChDbSession.Open(Path.Combine(Path.GetTempPath(), "metering-other-" + Guid.NewGuid().ToString("N"))));
        Assert.Contains(s.DataDirectory, e.Message, StringComparison.Ordinal);
        using (var again = Metering.Analytics.ChDb.ChDbSession.Open(ChDbShared.Directory))
        {
            Assert.Same(s, again);
        }

        Assert.Equal("1\n", Encoding.UTF8.GetString(s.Query("SELECT 1"))); // still open after the extra reference is released
    }
}
