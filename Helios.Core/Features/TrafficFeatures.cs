namespace Helios.Core.Features;

/// <summary>One gateway interval (SPEC section 2). Only the five model features are required.</summary>
public sealed record TrafficMetrics(double RequestsPerSecond, double AvgLatencyMs, double P95LatencyMs, double P99LatencyMs, double ErrorRate)
{
    public DateTimeOffset? Timestamp { get; init; }

    public long? Status2xx { get; init; }

    public long? Status4xx { get; init; }

    public long? Status5xx { get; init; }

    public long? TotalRequests { get; init; }
}

/// <summary>
/// The gateway's five traffic features. Training, /detect and the synthetic generator all go
/// through <see cref="Extract(TrafficMetrics, Span{double})"/>: one code path, no train/serve skew.
/// </summary>
public static class TrafficFeatures
{
    public static readonly FeatureSchema Schema = new("traffic", 1,
    [
        "requests_per_second", "avg_latency_ms", "p95_latency_ms", "p99_latency_ms", "error_rate",
    ]);

    public const int RequestsPerSecond = 0;
    public const int AvgLatencyMs = 1;
    public const int P95LatencyMs = 2;
    public const int P99LatencyMs = 3;
    public const int ErrorRate = 4;

    public static void Extract(TrafficMetrics metrics, Span<double> features)
    {
        features[RequestsPerSecond] = metrics.RequestsPerSecond;
        features[AvgLatencyMs] = metrics.AvgLatencyMs;
        features[P95LatencyMs] = metrics.P95LatencyMs;
        features[P99LatencyMs] = metrics.P99LatencyMs;
        features[ErrorRate] = metrics.ErrorRate;
    }

    public static double[] Extract(TrafficMetrics metrics)
    {
        var features = new double[Schema.Count];
        Extract(metrics, features);
        return features;
    }

    /// <summary>Row-major training matrix, one row per interval.</summary>
    public static double[] ToRows(IReadOnlyList<TrafficMetrics> metrics)
    {
        var rows = new double[metrics.Count * Schema.Count];
        for (var i = 0; i < metrics.Count; i++)
        {
            Extract(metrics[i], rows.AsSpan(i * Schema.Count, Schema.Count));
        }

        return rows;
    }

    /// <summary>The first invalid field and why, or null when the interval can be scored.</summary>
    public static (string Field, string Reason)? Validate(TrafficMetrics metrics)
    {
        static bool Bad(double v) => !double.IsFinite(v) || v < 0;
        if (Bad(metrics.RequestsPerSecond))
        {
            return ("requests_per_second", "must be a finite number >= 0");
        }

        if (Bad(metrics.AvgLatencyMs))
        {
            return ("avg_latency_ms", "must be a finite number >= 0");
        }

        if (Bad(metrics.P95LatencyMs))
        {
            return ("p95_latency_ms", "must be a finite number >= 0");
        }

        if (Bad(metrics.P99LatencyMs))
        {
            return ("p99_latency_ms", "must be a finite number >= 0");
        }

        if (Bad(metrics.ErrorRate) || metrics.ErrorRate > 1)
        {
            return ("error_rate", "must be a number between 0 and 1");
        }

        return null;
    }
}
