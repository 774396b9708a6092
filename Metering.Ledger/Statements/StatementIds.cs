using System.Globalization;

namespace Metering.Ledger.Statements;

/// <summary>The public form of a final statement's id: <c>st_</c> followed by its row number.</summary>
public static class StatementIds
{
    /// <summary>The prefix of every statement id.</summary>
    public const string Prefix = "st_";

    /// <summary><c>st_</c> and <paramref name="id"/>.</summary>
    public static string Format(long id) => Prefix + id.ToString(CultureInfo.InvariantCulture);
}
