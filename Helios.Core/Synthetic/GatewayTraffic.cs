using Helios.Core.Analysis;
using Helios.Core.Detection;
using Helios.Core.Features;

namespace Helios.Core.Synthetic;

/// <summary>
/// Seeded normal gateway intervals, distributed as the gateway service's own tests trained its
/// model: requests per second N(50, 10) clipped to [1, 200], latencies lognormal (avg mu 3.5,
/// p95 mu 4.0, p99 mu 4.5, sigma 0.5 each, in log-ms) and error rate |N(0.02, 0.01)|.
/// </summary>
public static class GatewayTraffic
{
    public const int DefaultTrainingRows = 1000;

    public static IReadOnlyList<TrafficMetrics> NormalIntervals(int count = DefaultTrainingRows, ulong seed = 42)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var rng = new Xoshiro256(seed);
        var result = new TrafficMetrics[count];
        for (var i = 0; i < count; i++)
        {
            var rps = Math.Clamp(50 + (10 * rng.NextGaussian()), 1, 200);
            var avg = Math.Exp(3.5 + (0.5 * rng.NextGaussian()));
            var p95 = Math.Exp(4.0 + (0.5 * rng.NextGaussian()));
            var p99 = Math.Exp(4.5 + (0.5 * rng.NextGaussian()));
            var errors = Math.Abs(0.02 + (0.01 * rng.NextGaussian()));
            result[i] = new TrafficMetrics(rps, avg, p95, p99, errors);
        }

        return result;
    }

    /// <summary>The traffic model the gateway's tests expect: contamination 0.1, trained on seeded normal intervals.</summary>
    public static AnomalyModel TrainModel(int rows = DefaultTrainingRows, ulong seed = 42, double contamination = TrafficModel.DefaultContamination) =>
        TrafficModel.Train(NormalIntervals(rows, seed), contamination, seed);
}
