using Helios.Core.Events;

namespace Helios.Core.Features;

/// <summary>
/// The seed's seven event-window features. Training, /predict and the streaming detector all
/// fill a <see cref="WindowAccumulator"/> and call <see cref="WindowAccumulator.ToFeatures"/>:
/// there is no second implementation to drift from (the seeds' train/serve skew).
/// </summary>
public static class EventWindowFeatures
{
    public static readonly FeatureSchema Schema = new("events", 1,
    [
        "total_events", "error_rate", "avg_latency", "p95_latency", "p99_latency", "latency_stddev", "unique_endpoints",
    ]);

    public const int TotalEvents = 0;
    public const int ErrorRate = 1;
    public const int AvgLatency = 2;
    public const int P95Latency = 3;
    public const int P99Latency = 4;
    public const int LatencyStddev = 5;
    public const int UniqueEndpoints = 6;

    public static double[] Extract(IEnumerable<TelemetryEvent> events)
    {
        var acc = new WindowAccumulator();
        foreach (var e in events)
        {
            acc.Add(e.Level, e.LatencyMs, e.Endpoint);
        }

        return acc.ToFeatures();
    }
}

/// <summary>Running state of one window, bounded in memory (see <see cref="LatencyDigest"/>).</summary>
public sealed class WindowAccumulator(int exactLatencyLimit = LatencyDigest.DefaultExactLimit)
{
    private readonly LatencyDigest _latencies = new(exactLatencyLimit);
    private HashSet<string>? _endpoints;

    public int Count { get; private set; }

    public int Errors { get; private set; }

    public void Add(EventLevel level, double latencyMs, string? endpoint)
    {
        Count++;
        if (level >= EventLevel.Error)
        {
            Errors++;
        }

        _latencies.Add(latencyMs);

        if (endpoint is not null)
        {
            (_endpoints ??= new HashSet<string>(StringComparer.Ordinal)).Add(endpoint);
        }
    }

    public double[] ToFeatures()
    {
        var f = new double[EventWindowFeatures.Schema.Count];
        f[EventWindowFeatures.TotalEvents] = Count;
        f[EventWindowFeatures.ErrorRate] = Count == 0 ? 0 : (double)Errors / Count;
        f[EventWindowFeatures.UniqueEndpoints] = _endpoints?.Count ?? 0;
        var (mean, stddev, p95, p99) = _latencies.Summarize();
        f[EventWindowFeatures.AvgLatency] = mean;
        f[EventWindowFeatures.P95Latency] = p95;
        f[EventWindowFeatures.P99Latency] = p99;
        f[EventWindowFeatures.LatencyStddev] = stddev;
        return f;
    }
}
