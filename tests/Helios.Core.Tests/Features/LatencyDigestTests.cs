using Helios.Core.Detection;
using Helios.Core.Features;

namespace Helios.Core.Tests.Features;

public sealed class LatencyDigestTests
{
    private static double[] Lognormal(int count, ulong seed)
    {
        var rng = new Xoshiro256(seed);
        return [.. Enumerable.Range(0, count).Select(_ => Math.Exp(4.5 + (0.8 * rng.NextGaussian())))];
    }

    [Fact]
    public void Summarize_WithinExactLimit_IsExactNumpyLinear()
    {
        var digest = new LatencyDigest(exactLimit: 100);
        foreach (var v in new double[] { 10, 20, 30, 40, 100, 40 })
        {
            digest.Add(v);
        }

        var (mean, stddev, _, p95, p99) = digest.Summarize();
        Assert.False(digest.IsSketch);
        Assert.Equal(40, mean, 12);
        Assert.Equal(Math.Sqrt(5000.0 / 6), stddev, 9);
        Assert.Equal(85.0, p95, 9); // numpy.percentile([10,20,30,40,40,100], 95) = 85.0
        Assert.Equal(97.0, p99, 9);
    }

    [Fact]
    public void Summarize_BeyondExactLimit_PercentilesWithinOnePercent_MomentsExact()
    {
        var values = Lognormal(50_000, 3);
        var digest = new LatencyDigest(exactLimit: 1_000);
        foreach (var v in values)
        {
            digest.Add(v);
        }

        var (mean, stddev, _, p95, p99) = digest.Summarize();
        Assert.True(digest.IsSketch);
        Assert.Equal(50_000, digest.Count);
        var sorted = values.ToArray();
        Array.Sort(sorted);
        var exactMean = values.Average();
        var exactStd = Math.Sqrt(values.Sum(v => (v - exactMean) * (v - exactMean)) / values.Length);
        Assert.Equal(exactMean, mean, exactMean * 1e-9);
        Assert.Equal(exactStd, stddev, exactStd * 1e-9);
        Assert.InRange(p95 / Percentiles.LinearSorted(sorted, 95), 1 - LatencyDigest.RelativeAccuracy, 1 + LatencyDigest.RelativeAccuracy);
        Assert.InRange(p99 / Percentiles.LinearSorted(sorted, 99), 1 - LatencyDigest.RelativeAccuracy, 1 + LatencyDigest.RelativeAccuracy);
    }

    [Fact]
    public void Add_WideRangeInSketch_KeepsEveryPercentileWithinOnePercent()
    {
        var digest = new LatencyDigest(exactLimit: 16);
        var values = new List<double>();
        for (var i = 0; i < 2_000; i++)
        {
            var v = Math.Pow(10, -2 + (7.0 * i / 1999)); // 0.01 ms .. 100,000 ms, buckets grow both ways
            values.Add(v);
            digest.Add(v);
        }

        var (_, _, _, p95, p99) = digest.Summarize();
        var sorted = values.Order().ToArray();
        Assert.InRange(p95 / Percentiles.LinearSorted(sorted, 95), 0.99, 1.01);
        Assert.InRange(p99 / Percentiles.LinearSorted(sorted, 99), 0.99, 1.01);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Add_NotAPositiveLatency_IsIgnored(double value)
    {
        var digest = new LatencyDigest();
        digest.Add(value);
        Assert.Equal(0, digest.Count);
        Assert.Equal(default, digest.Summarize());
    }
}
