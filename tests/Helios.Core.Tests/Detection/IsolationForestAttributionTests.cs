using Helios.Core.Detection;
using Helios.Core.Features;
using Helios.Core.Synthetic;

namespace Helios.Core.Tests.Detection;

public class IsolationForestAttributionTests
{
    private static readonly Lazy<AnomalyModel> Traffic = new(() => GatewayTraffic.TrainModel());

    private static readonly Lazy<IsolationForest> Gaussian = new(() =>
    {
        var rng = new Xoshiro256(11);
        var rows = new double[2000 * 5];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = rng.NextGaussian();
        }

        return IsolationForest.Fit(rows, 5, new IsolationForestOptions { Contamination = 0.05, Seed = 3 });
    });

    [Fact]
    public void NodeSizes_EveryRoot_HoldsTheTreeSample()
    {
        var forest = Gaussian.Value;
        var sizes = forest.NodeSizes();
        foreach (var root in forest.Roots)
        {
            Assert.Equal(forest.SamplesPerTree, sizes[root]);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void AccumulatePathAttribution_InjectedFeature_HasTheLargestShare(int injected)
    {
        var forest = Gaussian.Value;
        var row = new double[5];
        row[injected] = 5;
        var weights = new double[5];
        var total = forest.AccumulatePathAttribution(row, weights);
        Assert.True(total > 0);
        Assert.Equal(injected, Array.IndexOf(weights, weights.Max()));
        Assert.True(weights[injected] / total > 0.5, $"share {weights[injected] / total:0.00}");
        Assert.Equal(total, weights.Sum(), 9);
    }

    [Theory]
    [InlineData(TrafficFeatures.ErrorRate, 0.15)]
    [InlineData(TrafficFeatures.ErrorRate, 0.5)]
    [InlineData(TrafficFeatures.RequestsPerSecond, 500)]
    [InlineData(TrafficFeatures.RequestsPerSecond, 110)]
    [InlineData(TrafficFeatures.P99LatencyMs, 1500)]
    public void Attribution_SpikeInOneTrafficFeature_ThatFeatureLeads(int feature, double value)
    {
        var row = TrafficFeatures.Extract(new TrafficMetrics(50, 30, 60, 90, 0.02));
        row[feature] = value;
        var shares = Traffic.Value.Attribution(row)!;
        Assert.Equal(TrafficFeatures.Schema.Features[feature], shares[0].Feature);
        Assert.True(shares[0].Share > 0.5, $"share {shares[0].Share:0.00}");
        Assert.Equal(1, shares.Sum(c => c.Share), 9);
    }

    [Fact]
    public void AccumulatePathAttribution_TypicalRow_AddsLittle()
    {
        var forest = Gaussian.Value;
        var weights = new double[5];
        var typical = forest.AccumulatePathAttribution(new double[5], weights);
        var outlier = forest.AccumulatePathAttribution([0, 0, 6, 0, 0], weights.AsSpan().ToArray());
        Assert.True(typical < outlier / 5, $"typical {typical:0.0}, outlier {outlier:0.0}");
    }

    [Fact]
    public void AccumulatePathAttribution_AfterFirstCall_AllocatesNothing()
    {
        var forest = Gaussian.Value;
        double[] row = [0, 0, 4, 0, 0];
        var weights = new double[5];
        forest.AccumulatePathAttribution(row, weights);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            forest.AccumulatePathAttribution(row, weights);
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Fact]
    public void AccumulatePathAttribution_WrongWidth_Throws() =>
        Assert.Throws<ArgumentException>(() => Gaussian.Value.AccumulatePathAttribution(new double[4], new double[5]));
}
