namespace Helios.Core.Features;

public static class Percentiles
{
    /// <summary>numpy.percentile's default ('linear'): interpolate between order statistics. Sorts in place.</summary>
    public static double Linear(Span<double> values, double percent)
    {
        if (values.IsEmpty)
        {
            return 0;
        }

        values.Sort();
        return LinearSorted(values, percent);
    }

    public static double LinearSorted(ReadOnlySpan<double> sorted, double percent)
    {
        if (sorted.IsEmpty)
        {
            return 0;
        }

        var rank = percent / 100.0 * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + ((rank - lo) * (sorted[hi] - sorted[lo]));
    }
}
