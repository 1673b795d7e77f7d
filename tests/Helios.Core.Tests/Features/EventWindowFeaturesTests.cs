using Helios.Core.Events;
using Helios.Core.Features;

namespace Helios.Core.Tests.Features;

public class EventWindowFeaturesTests
{
    [Fact]
    public void ToFeatures_KnownWindow_MatchesNumpyDefinitions()
    {
        var acc = new WindowAccumulator();
        double[] latencies = [10, 20, 30, 40, 100];
        for (var i = 0; i < latencies.Length; i++)
        {
            acc.Add(i < 2 ? EventLevel.Error : EventLevel.Info, latencies[i], i % 2 == 0 ? "/a" : "/b");
        }

        acc.Add(EventLevel.Critical, double.NaN, null);
        var f = acc.ToFeatures();
        Assert.Equal(6, f[EventWindowFeatures.TotalEvents]);
        Assert.Equal(3.0 / 6, f[EventWindowFeatures.ErrorRate], 12);
        Assert.Equal(40, f[EventWindowFeatures.AvgLatency], 12);
        // numpy.percentile([10,20,30,40,100], 95) = 88.0 and 99 -> 97.6 (linear interpolation)
        Assert.Equal(88.0, f[EventWindowFeatures.P95Latency], 9);
        Assert.Equal(97.6, f[EventWindowFeatures.P99Latency], 9);
        // numpy.std (population) = sqrt(1000) = 31.6227766
        Assert.Equal(Math.Sqrt(1000), f[EventWindowFeatures.LatencyStddev], 9);
        Assert.Equal(2, f[EventWindowFeatures.UniqueEndpoints]);
    }

    /// <summary>
    /// Distinct endpoints are counted by text: the same text in another string object is not new, in the small array
    /// and after it gives way to a hash set (past 8), and a reused accumulator starts from none.
    /// </summary>
    [Fact]
    public void UniqueEndpoints_CountsTextNotObjects_AcrossTheSwitchToAHashSetAndAReset()
    {
        var random = new Random(3);
        var acc = new WindowAccumulator();
        foreach (var distinct in new[] { 1, 5, 8, 9, 30, 3 })
        {
            var names = Enumerable.Range(0, distinct).Select(i => $"/api/v{i}").ToArray();
            for (var i = 0; i < 200; i++)
            {
                // new string objects with the same text half the time
                var name = names[random.Next(distinct)];
                acc.Add(EventLevel.Info, 1, random.Next(2) == 0 ? name : new string(name.AsSpan()));
            }

            acc.Add(EventLevel.Info, 1, null);
            Assert.Equal(distinct, acc.UniqueEndpoints);
            Assert.Equal(distinct, acc.ToFeatures()[EventWindowFeatures.UniqueEndpoints]);
            acc.Reset();
            Assert.Equal(0, acc.UniqueEndpoints);
        }
    }

    [Fact]
    public void ToFeatures_NoLatencies_LatencyFeaturesAreZero()
    {
        var acc = new WindowAccumulator();
        acc.Add(EventLevel.Info, double.NaN, null);
        var f = acc.ToFeatures();
        Assert.Equal([1, 0, 0, 0, 0, 0, 0], f);
    }

    [Fact]
    public void Schema_SeedSevenThenRelative_VersionedHashes()
    {
        Assert.Equal(7, EventWindowFeatures.SeedSchema.Count);
        Assert.Equal("events.v1", EventWindowFeatures.SeedSchema.Id);
        Assert.Equal("events.v2", EventWindowFeatures.Schema.Id);
        Assert.Equal(EventWindowFeatures.SeedSchema.Features, EventWindowFeatures.Schema.Features.Take(7));
        Assert.Equal("log_p50_ratio", EventWindowFeatures.Schema.Features[EventWindowFeatures.LogP50Ratio]);
        Assert.Equal(new FeatureSchema("events", 2, [.. EventWindowFeatures.Schema.Features]).Hash, EventWindowFeatures.Schema.Hash);
        Assert.NotEqual(EventWindowFeatures.SeedSchema.Hash, EventWindowFeatures.Schema.Hash);
    }

    [Fact]
    public void BinomialSurprise_KnownTail_IsMinusLog10()
    {
        // P(X >= 2) for Binomial(12, 0.01) = 1 - 0.99^12 - 12 * 0.01 * 0.99^11
        var tail = 1 - Math.Pow(0.99, 12) - (12 * 0.01 * Math.Pow(0.99, 11));
        Assert.Equal(-Math.Log10(tail), EventWindowFeatures.BinomialSurprise(2, 12, 0.01), 9);
        Assert.Equal(0, EventWindowFeatures.BinomialSurprise(1, 200, 0.01));
        Assert.Equal(EventWindowFeatures.MaxSurprise, EventWindowFeatures.BinomialSurprise(500, 1000, 0.005));
    }

    [Fact]
    public void PoissonSurprise_KnownTail_IsMinusLog10()
    {
        // P(X >= 3) for Poisson(1) = 1 - e^-1 (1 + 1 + 1/2)
        Assert.Equal(-Math.Log10(1 - (Math.Exp(-1) * 2.5)), EventWindowFeatures.PoissonSurprise(3, 1), 9);
        Assert.Equal(0, EventWindowFeatures.PoissonSurprise(100, 120));
        Assert.True(EventWindowFeatures.PoissonSurprise(600, 100) > 40);
    }

    [Fact]
    public void ToFeaturesWithBaseline_KnownWindow_RelativeToBaseline()
    {
        var acc = new WindowAccumulator();
        for (var i = 0; i < 20; i++)
        {
            acc.Add(i < 10 ? EventLevel.Error : EventLevel.Info, i < 10 ? 400 : 100, "/a");
        }

        var f = acc.ToFeatures(new WindowBaseline(ExpectedEvents: 9, ErrorRate: 0.01, LatencyP50: 50, LatencyP95: 200));
        Assert.Equal(EventWindowFeatures.Schema.Count, f.Length);
        Assert.Equal(acc.ToFeatures(), f.Take(7));
        Assert.Equal(Math.Log(21.0 / 10), f[EventWindowFeatures.LogRateRatio], 12);
        Assert.Equal(EventWindowFeatures.PoissonSurprise(20, 9), f[EventWindowFeatures.RateSurprise], 12);
        Assert.Equal(EventWindowFeatures.BinomialSurprise(10, 20, 0.01), f[EventWindowFeatures.ErrorSurprise], 12);
        Assert.Equal(EventWindowFeatures.BinomialSurprise(10, 20, 0.05), f[EventWindowFeatures.SlowSurprise], 12);
        // p50 of ten 100s and ten 400s is 250 (linear interpolation).
        Assert.Equal(Math.Log(250.0 / 50), f[EventWindowFeatures.LogP50Ratio], 12);
    }

    [Fact]
    public void ToFeaturesWithBaseline_UnknownService_RelativeFeaturesNeutral()
    {
        var acc = new WindowAccumulator();
        acc.Add(EventLevel.Error, 100, "/a");
        var f = acc.ToFeatures(null);
        Assert.Equal(EventWindowFeatures.Schema.Count, f.Length);
        Assert.All(f.Skip(7), v => Assert.Equal(0, v));
    }
}
