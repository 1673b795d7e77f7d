using Helios.Core.Features;

namespace Helios.Core.Analysis;

public enum TrafficAnomalyType { None, TrafficSpike, TrafficDrop, LatencySpike, ErrorRateSpike, MultiDimensional, PatternAnomaly }

/// <summary>
/// Traffic-model rules that sit on top of the forest, all on robust z-scores against the
/// training baseline (value - median) / (1.4826 MAD):
/// <list type="bullet">
/// <item>Three feature groups: traffic (requests_per_second, either direction), latency (the
/// largest upward z of avg, p95 and p99 latency) and errors (error_rate, upward).</item>
/// <item>A group deviates when its z reaches <see cref="TypeRobustZ"/> (3).</item>
/// <item>Type of an anomalous interval: two or more deviating groups -> multi_dimensional; exactly
/// one -> traffic_spike / traffic_drop (by the sign of the requests z), latency_spike or
/// error_rate_spike; none (the forest flagged a combination no single feature explains) ->
/// pattern_anomaly.</item>
/// <item>Besides the forest and the model's extreme-feature guard (|z| >= 6 in any feature,
/// <see cref="Detection.AnomalyModel.DefaultExtremeRobustZ"/>), a
/// drop of requests_per_second to <see cref="DropRobustZ"/> (-4) or below is anomalous: the rate
/// cannot go under 0, so against the gateway baseline (median 50, sd 10) even a full outage is
/// only about -5 and would never reach the symmetric limit. A Gaussian rate dips to -4 about
/// 3 times in 100,000 intervals.</item>
/// </list>
/// </summary>
public static class TrafficAnomalyTypes
{
    public const double TypeRobustZ = 3;

    public const double DropRobustZ = -4;

    public static TrafficAnomalyType Classify(ReadOnlySpan<double> robustZ, bool isAnomaly)
    {
        if (!isAnomaly)
        {
            return TrafficAnomalyType.None;
        }

        var traffic = robustZ[TrafficFeatures.RequestsPerSecond];
        var latency = Math.Max(robustZ[TrafficFeatures.AvgLatencyMs], Math.Max(robustZ[TrafficFeatures.P95LatencyMs], robustZ[TrafficFeatures.P99LatencyMs]));
        var errors = robustZ[TrafficFeatures.ErrorRate];
        var trafficDeviates = Math.Abs(traffic) >= TypeRobustZ;
        var latencyDeviates = latency >= TypeRobustZ;
        var errorsDeviate = errors >= TypeRobustZ;
        var groups = (trafficDeviates ? 1 : 0) + (latencyDeviates ? 1 : 0) + (errorsDeviate ? 1 : 0);
        return groups switch
        {
            >= 2 => TrafficAnomalyType.MultiDimensional,
            1 when trafficDeviates => traffic > 0 ? TrafficAnomalyType.TrafficSpike : TrafficAnomalyType.TrafficDrop,
            1 when latencyDeviates => TrafficAnomalyType.LatencySpike,
            1 => TrafficAnomalyType.ErrorRateSpike,
            _ => TrafficAnomalyType.PatternAnomaly,
        };
    }

    /// <summary>True when requests per second fell far enough below the baseline to count as a drop on its own.</summary>
    public static bool IsTrafficDrop(ReadOnlySpan<double> robustZ) => robustZ[TrafficFeatures.RequestsPerSecond] <= DropRobustZ;

    public static string? Name(TrafficAnomalyType type) => type switch
    {
        TrafficAnomalyType.TrafficSpike => "traffic_spike",
        TrafficAnomalyType.TrafficDrop => "traffic_drop",
        TrafficAnomalyType.LatencySpike => "latency_spike",
        TrafficAnomalyType.ErrorRateSpike => "error_rate_spike",
        TrafficAnomalyType.MultiDimensional => "multi_dimensional",
        TrafficAnomalyType.PatternAnomaly => "pattern_anomaly",
        _ => null,
    };

    /// <summary>Words for explanations: "traffic spike", "error rate spike", ...</summary>
    public static string Describe(TrafficAnomalyType type) => type switch
    {
        TrafficAnomalyType.TrafficSpike => "Traffic spike",
        TrafficAnomalyType.TrafficDrop => "Traffic drop",
        TrafficAnomalyType.LatencySpike => "Latency spike",
        TrafficAnomalyType.ErrorRateSpike => "Error rate spike",
        TrafficAnomalyType.MultiDimensional => "Multi-dimensional anomaly",
        TrafficAnomalyType.PatternAnomaly => "Unusual pattern",
        _ => "Normal",
    };
}
