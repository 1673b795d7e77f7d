using Helios.Core.Analysis;

namespace Helios.Core.Tests.Analysis;

public class TrafficAnomalyTypesTests
{
    // z in schema order: requests, avg, p95, p99 latency, error rate.
    [Theory]
    [InlineData(false, 40, 0, 0, 0, 0, TrafficAnomalyType.None)]
    [InlineData(true, 5, 0, 0, 0, 0, TrafficAnomalyType.TrafficSpike)]
    [InlineData(true, -4.5, 0, 0, 0, 0, TrafficAnomalyType.TrafficDrop)]
    [InlineData(true, 0, 0, 0, 3, 0, TrafficAnomalyType.LatencySpike)]
    [InlineData(true, 0, 0, 0, 0, 12, TrafficAnomalyType.ErrorRateSpike)]
    [InlineData(true, 45, 0, 4, 0, 0, TrafficAnomalyType.MultiDimensional)]
    [InlineData(true, 0, 8, 9, 10, 3.5, TrafficAnomalyType.MultiDimensional)]
    [InlineData(true, 2.9, 2.9, 2.9, 2.9, 2.9, TrafficAnomalyType.PatternAnomaly)]
    [InlineData(true, 0, -9, -9, -9, -3, TrafficAnomalyType.PatternAnomaly)]
    public void Classify_RobustZ_GivesDocumentedType(bool anomalous, double rps, double avg, double p95, double p99, double errors, TrafficAnomalyType expected) =>
        Assert.Equal(expected, TrafficAnomalyTypes.Classify([rps, avg, p95, p99, errors], anomalous));

    [Fact]
    public void Name_EveryType_IsSnakeCase()
    {
        Assert.Null(TrafficAnomalyTypes.Name(TrafficAnomalyType.None));
        Assert.Equal(
            ["traffic_spike", "traffic_drop", "latency_spike", "error_rate_spike", "multi_dimensional", "pattern_anomaly"],
            Enum.GetValues<TrafficAnomalyType>().Skip(1).Select(TrafficAnomalyTypes.Name));
    }

    [Theory]
    [InlineData(-4.0, true)]
    [InlineData(-3.9, false)]
    [InlineData(40, false)]
    public void IsTrafficDrop_AtLimit(double rps, bool expected) =>
        Assert.Equal(expected, TrafficAnomalyTypes.IsTrafficDrop([rps, 0, 0, 0, 0]));
}
