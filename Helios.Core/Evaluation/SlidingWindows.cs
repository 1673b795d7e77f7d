using Helios.Core.Features;

namespace Helios.Core.Evaluation;

/// <summary>Fixed-size sliding windows over one series: window k covers points [k * stride, k * stride + size).</summary>
public static class SlidingWindows
{
    /// <summary>Number of whole windows; a trailing partial window is dropped.</summary>
    public static int Count(int length, int size, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        return length < size ? 0 : ((length - size) / stride) + 1;
    }

    /// <summary>A window is anomalous when any of its points is (i.e. it overlaps a labelled anomaly window).</summary>
    public static bool[] Labels(ReadOnlySpan<bool> pointLabels, int size, int stride)
    {
        var labels = new bool[Count(pointLabels.Length, size, stride)];
        for (var k = 0; k < labels.Length; k++)
        {
            labels[k] = pointLabels.Slice(k * stride, size).Contains(true);
        }

        return labels;
    }

    /// <summary>Z-normalisation over the whole series with the population standard deviation; a constant series becomes zeros.</summary>
    public static double[] ZNormalise(ReadOnlySpan<double> values)
    {
        var (mean, std) = Percentiles.MeanStd(values);
        var z = new double[values.Length];
        for (var i = 0; i < z.Length; i++)
        {
            z[i] = std > 0 ? (values[i] - mean) / std : 0;
        }

        return z;
    }

}

/// <summary>Post-processing of per-window anomaly scores within one stream.</summary>
public static class WindowScores
{
    /// <summary>
    /// Each window's score becomes the maximum over itself, <paramref name="before"/> preceding and
    /// <paramref name="after"/> following windows of the same stream (clipped at the stream's ends).
    /// With after &gt; 0 this looks ahead and so is only for offline scoring.
    /// </summary>
    public static double[] NeighbourhoodMax(ReadOnlySpan<double> scores, int before, int after)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(before);
        ArgumentOutOfRangeException.ThrowIfNegative(after);
        var result = new double[scores.Length];
        for (var k = 0; k < scores.Length; k++)
        {
            var from = Math.Max(0, k - before);
            var to = Math.Min(scores.Length - 1, k + after);
            var max = double.NegativeInfinity;
            for (var j = from; j <= to; j++)
            {
                max = Math.Max(max, scores[j]);
            }

            result[k] = max;
        }

        return result;
    }
}
