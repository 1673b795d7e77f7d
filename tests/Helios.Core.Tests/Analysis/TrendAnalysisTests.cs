using Helios.Core.Analysis;
using Helios.Core.Detection;

namespace Helios.Core.Tests.Analysis;

public class TrendAnalysisTests
{
    [Theory]
    [InlineData(7)]
    [InlineData(10)]
    [InlineData(60)]
    [InlineData(200)]
    public void Fit_CleanRamp_IsIncreasingAtAnyLength(int points)
    {
        var fit = TrendAnalysis.Fit([.. Enumerable.Range(0, points).Select(i => 100.0 + (2 * i))]);
        Assert.Equal(TrendDirection.Increasing, fit.Direction);
        Assert.Equal(2, fit.Slope, 9);
        Assert.Equal("increasing", fit.DirectionName);
    }

    [Fact]
    public void Fit_FallingRamp_IsDecreasing() =>
        Assert.Equal(TrendDirection.Decreasing, TrendAnalysis.Fit([.. Enumerable.Range(0, 60).Select(i => 100.0 - i)]).Direction);

    [Fact]
    public void Fit_Constant_IsStableWithPValueOne()
    {
        var fit = TrendAnalysis.Fit([.. Enumerable.Repeat(5.0, 60)]);
        Assert.Equal(TrendDirection.Stable, fit.Direction);
        Assert.Equal(1, fit.PValue);
        Assert.Equal(0, fit.Slope);
    }

    [Fact]
    public void Fit_NoiseWithOneOutlier_IsStable()
    {
        var rng = new Xoshiro256(3);
        var series = Enumerable.Range(0, 60).Select(_ => 50 + rng.NextGaussian()).ToArray();
        series[^1] = 500;
        Assert.Equal(TrendDirection.Stable, TrendAnalysis.Fit(series).Direction);
    }

    [Fact]
    public void Fit_NoisyRamp_IsIncreasing()
    {
        var rng = new Xoshiro256(4);
        var series = Enumerable.Range(0, 60).Select(i => 50 + (0.5 * i) + (3 * rng.NextGaussian())).ToArray();
        var fit = TrendAnalysis.Fit(series);
        Assert.Equal(TrendDirection.Increasing, fit.Direction);
        Assert.InRange(fit.Slope, 0.35, 0.65);
    }

    [Fact]
    public void Fit_SignificantButNegligibleDrift_IsStable()
    {
        // Monotone, so Mann-Kendall is sure, but 1000 -> 1000.59 is not a trend anyone acts on.
        var fit = TrendAnalysis.Fit([.. Enumerable.Range(0, 60).Select(i => 1000 + (0.01 * i))]);
        Assert.True(fit.PValue < TrendAnalysis.Significance);
        Assert.Equal(TrendDirection.Stable, fit.Direction);
    }

    [Fact]
    public void Fit_TooFewPoints_IsStable() =>
        Assert.Equal(TrendDirection.Stable, TrendAnalysis.Fit([1, 2]).Direction);

    [Fact]
    public void MannKendall_KnownSeries_MatchesHandComputation()
    {
        // 1, 3, 2, 4, 5: concordant pairs 9, discordant 1 -> S = 8; var = 5*4*15/18 = 16.667;
        // z = (8 - 1) / sqrt(16.667) = 1.7146; two-sided p = 0.0864.
        var (s, z, p) = TrendAnalysis.MannKendall([1, 3, 2, 4, 5]);
        Assert.Equal(8, s);
        Assert.Equal(1.7146, z, 4);
        Assert.Equal(0.0864, p, 3);
    }

    [Fact]
    public void MannKendall_Ties_ReduceTheVariance()
    {
        // 1, 1, 2, 2: S = 4; var = (4*3*13 - 2*(2*1*9)) / 18 = (156 - 36) / 18 = 6.667; z = 3 / 2.582 = 1.162.
        var (s, z, _) = TrendAnalysis.MannKendall([1, 1, 2, 2]);
        Assert.Equal(4, s);
        Assert.Equal(1.1619, z, 4);
    }

    [Fact]
    public void TheilSenSlope_IgnoresAnOutlier() =>
        Assert.Equal(1, TrendAnalysis.TheilSenSlope([0, 1, 2, 3, 100, 5, 6, 7, 8]), 9);

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0.157299207)]
    [InlineData(1.959963985 / 1.4142135623730951, 0.05)]
    [InlineData(-1, 1.842700793)]
    public void Erfc_MatchesReferenceValues(double x, double expected) =>
        Assert.Equal(expected, TrendAnalysis.Erfc(x), 6);
}
