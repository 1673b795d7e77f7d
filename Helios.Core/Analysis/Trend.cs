using Helios.Core.Features;

namespace Helios.Core.Analysis;

public enum TrendDirection { Stable, Increasing, Decreasing }

/// <summary>A series' trend: Theil-Sen slope per step, the Mann-Kendall statistic and its two-sided p-value.</summary>
public sealed record TrendFit(TrendDirection Direction, double Slope, double MannKendallS, double MannKendallZ, double PValue, int Points)
{
    public string DirectionName => TrendAnalysis.Name(Direction);
}

/// <summary>
/// Trend of an evenly spaced series. A series is increasing (decreasing) when the Mann-Kendall
/// test rejects "no monotonic trend" at <see cref="Significance"/> and the Theil-Sen slope is
/// positive (negative) and moves the series by at least <see cref="MinRelativeChange"/> of its
/// median over the window; otherwise stable. Both are rank-based, so a clean ramp of any length is
/// a trend (the seed's least-squares rule called 7+ point ramps "stable") and single outliers do
/// not make one.
/// </summary>
public static class TrendAnalysis
{
    public const double Significance = 0.05;

    /// <summary>Smallest fitted change over the window, relative to the series' median, that counts as a trend.</summary>
    public const double MinRelativeChange = 0.05;

    public static TrendFit Fit(ReadOnlySpan<double> series)
    {
        var n = series.Length;
        if (n < 3)
        {
            return new TrendFit(TrendDirection.Stable, 0, 0, 0, 1, n);
        }

        var slope = TheilSenSlope(series);
        var (s, z, p) = MannKendall(series);
        var level = Math.Abs(Median(series));
        var change = Math.Abs(slope) * (n - 1);
        var material = level > 1e-12 ? change / level >= MinRelativeChange : change > 1e-12;
        var direction = p < Significance && material
            ? slope > 0 ? TrendDirection.Increasing : slope < 0 ? TrendDirection.Decreasing : TrendDirection.Stable
            : TrendDirection.Stable;
        return new TrendFit(direction, slope, s, z, p, n);
    }

    /// <summary>Median of the pairwise slopes (y[j] - y[i]) / (j - i), i &lt; j, for points at x = 0, 1, 2, ...</summary>
    public static double TheilSenSlope(ReadOnlySpan<double> series)
    {
        var n = series.Length;
        if (n < 2)
        {
            return 0;
        }

        var slopes = new double[n * (n - 1) / 2];
        var k = 0;
        for (var i = 0; i < n - 1; i++)
        {
            for (var j = i + 1; j < n; j++)
            {
                slopes[k++] = (series[j] - series[i]) / (j - i);
            }
        }

        return Percentiles.Linear(slopes, 50);
    }

    /// <summary>Mann-Kendall S, its continuity-corrected normal score (variance corrected for ties) and two-sided p-value.</summary>
    public static (double S, double Z, double P) MannKendall(ReadOnlySpan<double> series)
    {
        var n = series.Length;
        long s = 0;
        for (var i = 0; i < n - 1; i++)
        {
            for (var j = i + 1; j < n; j++)
            {
                s += Math.Sign(series[j] - series[i]);
            }
        }

        var sorted = series.ToArray();
        Array.Sort(sorted);
        double ties = 0;
        for (var i = 0; i < n;)
        {
            var j = i + 1;
            while (j < n && sorted[j] == sorted[i])
            {
                j++;
            }

            double t = j - i;
            ties += t * (t - 1) * ((2 * t) + 5);
            i = j;
        }

        var variance = ((n * (n - 1.0) * ((2.0 * n) + 5)) - ties) / 18.0;
        if (variance <= 0 || s == 0)
        {
            return (s, 0, 1);
        }

        var z = (s - Math.Sign(s)) / Math.Sqrt(variance);
        return (s, z, Math.Min(1, Erfc(Math.Abs(z) / Math.Sqrt(2))));
    }

    public static string Name(TrendDirection direction) => direction switch
    {
        TrendDirection.Increasing => "increasing",
        TrendDirection.Decreasing => "decreasing",
        _ => "stable",
    };

    private static double Median(ReadOnlySpan<double> series)
    {
        var copy = series.ToArray();
        return Percentiles.Linear(copy, 50);
    }

    /// <summary>Complementary error function (Numerical Recipes' erfcc, fractional error below 1.2e-7).</summary>
    internal static double Erfc(double x)
    {
        var z = Math.Abs(x);
        var t = 1 / (1 + (0.5 * z));
        ReadOnlySpan<double> c = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
        var poly = 0.0;
        for (var i = c.Length - 1; i >= 0; i--)
        {
            poly = c[i] + (t * poly);
        }

        var r = t * Math.Exp(-(z * z) + poly);
        return x >= 0 ? r : 2 - r;
    }
}
