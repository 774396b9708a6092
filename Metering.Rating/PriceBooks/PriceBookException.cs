
namespace Metering.Rating.PriceBooks;

/// <summary>Thrown when a price book does not validate; lists every problem.</summary>
public sealed class PriceBookException(string source, IReadOnlyList<PriceBookError> errors)
    : Exception($"{source}: {errors.Count} problem(s): " + string.Join("; ", errors))
{
    /// <summary>Every problem found.</summary>
    public IReadOnlyList<PriceBookError> Errors { get; } = errors;
}
