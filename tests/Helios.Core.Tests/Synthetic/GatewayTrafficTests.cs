using Helios.Core.Features;
using Helios.Core.Synthetic;

namespace Helios.Core.Tests.Synthetic;

public class GatewayTrafficTests
{
    [Fact]
    public void NormalIntervals_SameSeed_SameData_OtherSeedOtherData()
    {
        Assert.Equal(GatewayTraffic.NormalIntervals(100, 5), GatewayTraffic.NormalIntervals(100, 5));
        Assert.NotEqual(GatewayTraffic.NormalIntervals(100, 5), GatewayTraffic.NormalIntervals(100, 6));
    }

    [Fact]
    public void NormalIntervals_FollowTheGatewayTestDistributions()
    {
        var data = GatewayTraffic.NormalIntervals(5000, 1);
        static double Median(IEnumerable<double> v) => Percentiles.Linear(v.ToArray(), 50);
        Assert.InRange(Median(data.Select(d => d.RequestsPerSecond)), 49, 51);
        Assert.InRange(Median(data.Select(d => d.AvgLatencyMs)), Math.Exp(3.5) * 0.95, Math.Exp(3.5) * 1.05);
        Assert.InRange(Median(data.Select(d => d.P95LatencyMs)), Math.Exp(4.0) * 0.95, Math.Exp(4.0) * 1.05);
        Assert.InRange(Median(data.Select(d => d.P99LatencyMs)), Math.Exp(4.5) * 0.95, Math.Exp(4.5) * 1.05);
        Assert.InRange(Median(data.Select(d => d.ErrorRate)), 0.019, 0.021);
        Assert.All(data, d => Assert.InRange(d.RequestsPerSecond, 1, 200));
        Assert.All(data, d => Assert.Null(TrafficFeatures.Validate(d)));
    }

    [Fact]
    public void TrainModel_IsTrafficSchemaWithGuard()
    {
        var model = GatewayTraffic.TrainModel(300);
        Assert.Equal("traffic.v1", model.Schema.Id);
        Assert.Equal(0.1, model.Manifest.Contamination);
        Assert.Equal(300, model.Manifest.TrainingRows);
        Assert.NotNull(model.Manifest.ExtremeRobustZ);
    }
}
