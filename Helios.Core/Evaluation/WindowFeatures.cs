using Helios.Core.Features;

namespace Helios.Core.Evaluation;

/// <summary>Which representations of a window to emit; groups combine, in the order listed.</summary>
[Flags]
public enum WindowFeatureSet
{
    None = 0,

    /// <summary>The window's z-normalised values themselves (the predecessor's representation).</summary>
    Raw = 1,

    /// <summary>Summary statistics of the window alone.</summary>
    Shape = 2,

    /// <summary>The window against the points that precede it in the same stream.</summary>
    Context = 4,

    /// <summary>The window against the typical window of its whole stream (medians over all its windows; no labels).</summary>
    Stream = 8,

    /// <summary>Discord: distance from the window to its nearest non-overlapping neighbour anywhere in its stream, against the stream's median.</summary>
    Discord = 16,

    /// <summary>Causal discord: the nearest neighbour is searched only in the stream before the window.</summary>
    LeftDiscord = 32,
}

/// <summary>
/// Features of sliding windows over one z-normalised stream. Whole-stream z-normalisation puts every
/// stream on a common scale but leaves a quiet stream's "large" window incomparable with a noisy
/// stream's ordinary one; the context and stream groups measure each window against its own stream.
/// Ratios and z-scores are log-compressed (sign(x) log(1 + |x|)) so a few extreme windows do not stretch
/// the Isolation Forest's uniform split range over everything else.
/// </summary>
public static class WindowFeatures
{
    /// <summary>Added to spreads before dividing so flat stretches give finite ratios (z units).</summary>
    public const double Epsilon = 0.01;

    public static readonly IReadOnlyList<string> ShapeNames =
        ["mean", "std", "min", "max", "range", "last_minus_first", "max_abs_diff", "std_diff", "skewness", "excess_kurtosis"];

    public static readonly IReadOnlyList<string> ContextNames =
        ["ctx_mean_z", "ctx_max_abs_z", "ctx_log_std_ratio", "ctx_log_diff_ratio"];

    public static readonly IReadOnlyList<string> StreamNames =
        ["stream_mean_robust_z", "stream_log_std_ratio", "stream_log_diff_ratio"];

    public static readonly IReadOnlyList<string> DiscordNames = ["discord_log_ratio"];

    public static readonly IReadOnlyList<string> LeftDiscordNames = ["left_discord_log_ratio"];

    public static IReadOnlyList<string> Names(WindowFeatureSet set, int size)
    {
        var names = new List<string>();
        if (set.HasFlag(WindowFeatureSet.Raw))
        {
            names.AddRange(Enumerable.Range(0, size).Select(i => $"x{i}"));
        }

        if (set.HasFlag(WindowFeatureSet.Shape))
        {
            names.AddRange(ShapeNames);
        }

        if (set.HasFlag(WindowFeatureSet.Context))
        {
            names.AddRange(ContextNames);
        }

        if (set.HasFlag(WindowFeatureSet.Stream))
        {
            names.AddRange(StreamNames);
        }

        if (set.HasFlag(WindowFeatureSet.Discord))
        {
            names.AddRange(DiscordNames);
        }

        if (set.HasFlag(WindowFeatureSet.LeftDiscord))
        {
            names.AddRange(LeftDiscordNames);
        }

        return names;
    }

    /// <summary>
    /// Row-major features, one row per window of <see cref="SlidingWindows"/>. Context uses up to
    /// <paramref name="contextPoints"/> points before the window; a window with fewer than
    /// <paramref name="size"/> preceding points has neutral (zero) context features.
    /// </summary>
    public static double[] Extract(ReadOnlySpan<double> z, int size, int stride, WindowFeatureSet set, int contextPoints = 600)
    {
        var count = SlidingWindows.Count(z.Length, size, stride);
        var columns = Names(set, size).Count;
        var rows = new double[count * columns];
        var shapes = new double[count][];
        for (var k = 0; k < count; k++)
        {
            shapes[k] = Shape(z.Slice(k * stride, size));
        }

        var medianMean = Median(shapes.Select(s => s[0]));
        var madMean = Median(shapes.Select(s => Math.Abs(s[0] - medianMean)));
        var medianStd = Median(shapes.Select(s => s[1]));
        var medianDiff = Median(shapes.Select(s => s[6]));
        var discord = set.HasFlag(WindowFeatureSet.Discord) ? RelativeToMedian(NearestNeighbourDistances(z, size, stride, leftOnly: false)) : [];
        var leftDiscord = set.HasFlag(WindowFeatureSet.LeftDiscord) ? RelativeToMedian(NearestNeighbourDistances(z, size, stride, leftOnly: true)) : [];
        for (var k = 0; k < count; k++)
        {
            var start = k * stride;
            var window = z.Slice(start, size);
            var row = rows.AsSpan(k * columns, columns);
            var c = 0;
            if (set.HasFlag(WindowFeatureSet.Raw))
            {
                window.CopyTo(row);
                c += size;
            }

            var shape = shapes[k];
            if (set.HasFlag(WindowFeatureSet.Shape))
            {
                shape.CopyTo(row[c..]);
                c += shape.Length;
            }

            if (set.HasFlag(WindowFeatureSet.Context))
            {
                var from = Math.Max(0, start - contextPoints);
                if (start - from >= size)
                {
                    var history = z[from..start];
                    var (hMean, hStd) = Percentiles.MeanStd(history);
                    var hDiff = MeanAbsDiff(history);
                    double maxAbsZ = 0;
                    foreach (var v in window)
                    {
                        maxAbsZ = Math.Max(maxAbsZ, Math.Abs(v - hMean));
                    }

                    row[c] = SignedLog((shape[0] - hMean) / (hStd + Epsilon));
                    row[c + 1] = SignedLog(maxAbsZ / (hStd + Epsilon));
                    row[c + 2] = Math.Log((shape[1] + Epsilon) / (hStd + Epsilon));
                    row[c + 3] = Math.Log((shape[6] + Epsilon) / (hDiff + Epsilon));
                }

                c += ContextNames.Count;
            }

            if (set.HasFlag(WindowFeatureSet.Stream))
            {
                row[c] = SignedLog((shape[0] - medianMean) / ((1.4826 * madMean) + Epsilon));
                row[c + 1] = Math.Log((shape[1] + Epsilon) / (medianStd + Epsilon));
                row[c + 2] = Math.Log((shape[6] + Epsilon) / (medianDiff + Epsilon));
                c += StreamNames.Count;
            }

            if (set.HasFlag(WindowFeatureSet.Discord))
            {
                row[c++] = discord[k];
            }

            if (set.HasFlag(WindowFeatureSet.LeftDiscord))
            {
                row[c++] = leftDiscord[k];
            }
        }

        return rows;
    }

    /// <summary>The <see cref="ShapeNames"/> statistics of one window (population moments; flat window: skewness and kurtosis 0).</summary>
    public static double[] Shape(ReadOnlySpan<double> w)
    {
        var (mean, std) = Percentiles.MeanStd(w);
        double min = double.PositiveInfinity, max = double.NegativeInfinity, m3 = 0, m4 = 0;
        foreach (var v in w)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            var d = v - mean;
            m3 += d * d * d;
            m4 += d * d * d * d;
        }

        m3 /= w.Length;
        m4 /= w.Length;
        double maxAbsDiff = 0, diffSum = 0, diffSq = 0;
        for (var i = 1; i < w.Length; i++)
        {
            var d = w[i] - w[i - 1];
            maxAbsDiff = Math.Max(maxAbsDiff, Math.Abs(d));
            diffSum += d;
            diffSq += d * d;
        }

        var n = Math.Max(1, w.Length - 1);
        var diffMean = diffSum / n;
        var stdDiff = Math.Sqrt(Math.Max(0, (diffSq / n) - (diffMean * diffMean)));
        var flat = std < 1e-12;
        var skew = flat ? 0 : m3 / (std * std * std);
        var kurt = flat ? 0 : (m4 / (std * std * std * std)) - 3;
        return [mean, std, min, max, max - min, w[^1] - w[0], maxAbsDiff, stdDiff, skew, kurt];
    }

    /// <summary>
    /// For each window, the root-mean-square distance to the closest subsequence of the same length
    /// that does not overlap it (any start, stride 1); with <paramref name="leftOnly"/> only subsequences
    /// ending before the window starts count. NaN when there is no candidate.
    /// </summary>
    public static double[] NearestNeighbourDistances(ReadOnlySpan<double> z, int size, int stride, bool leftOnly)
    {
        var count = SlidingWindows.Count(z.Length, size, stride);
        var result = new double[count];
        for (var k = 0; k < count; k++)
        {
            var start = k * stride;
            var window = z.Slice(start, size);
            var best = double.PositiveInfinity;
            var lastCandidate = leftOnly ? start - size : z.Length - size;
            for (var j = 0; j <= lastCandidate; j++)
            {
                if (j > start - size && j < start + size)
                {
                    j = start + size - 1;
                    continue;
                }

                var candidate = z.Slice(j, size);
                double d = 0;
                for (var i = 0; i < size && d < best; i++)
                {
                    var e = window[i] - candidate[i];
                    d += e * e;
                }

                best = Math.Min(best, d);
            }

            result[k] = double.IsPositiveInfinity(best) ? double.NaN : Math.Sqrt(best / size);
        }

        return result;
    }

    /// <summary>log((d + eps) / (median d + eps)) over the finite distances; NaN (no neighbour) becomes 0.</summary>
    private static double[] RelativeToMedian(double[] distances)
    {
        var median = Median(distances.Where(double.IsFinite));
        return [.. distances.Select(d => double.IsFinite(d) ? Math.Log((d + Epsilon) / (median + Epsilon)) : 0)];
    }

    public static double SignedLog(double x) => Math.Sign(x) * Math.Log(1 + Math.Abs(x));

    private static double MeanAbsDiff(ReadOnlySpan<double> values)
    {
        double sum = 0;
        for (var i = 1; i < values.Length; i++)
        {
            sum += Math.Abs(values[i] - values[i - 1]);
        }

        return values.Length < 2 ? 0 : sum / (values.Length - 1);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.ToArray();
        return sorted.Length == 0 ? 0 : Helios.Core.Features.Percentiles.Linear(sorted, 50);
    }
}
