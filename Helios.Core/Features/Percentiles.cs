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

    /// <summary>Mean and population standard deviation, two-pass (numpy's mean and std with ddof 0); zeros when empty.</summary>
    public static (double Mean, double Std) MeanStd(ReadOnlySpan<double> values)
    {
        if (values.IsEmpty)
        {
            return (0, 0);
        }

        double sum = 0;
        foreach (var v in values)
        {
            sum += v;
        }

        var mean = sum / values.Length;
        double squares = 0;
        foreach (var v in values)
        {
            squares += (v - mean) * (v - mean);
        }

        return (mean, Math.Sqrt(squares / values.Length));
    }
}
