using System.Text.Json.Serialization;

namespace Helios.Core.Features;

/// <summary>
/// What is normal for one service, learned from the training windows: its event rate by hour of
/// day (UTC), its error share and the median and 95th percentile of its single-event latencies.
/// </summary>
public sealed record ServiceBaseline(
    [property: JsonPropertyName("service")] string Service,
    [property: JsonPropertyName("events_per_minute_by_hour")] IReadOnlyList<double> EventsPerMinuteByHour,
    [property: JsonPropertyName("error_rate")] double ErrorRate,
    [property: JsonPropertyName("latency_p50")] double LatencyP50,
    [property: JsonPropertyName("latency_p95")] double LatencyP95)
{
    /// <summary>Expected events in [from, to): the hourly rate interpolated linearly between hour centres at the window's midpoint.</summary>
    public double ExpectedEvents(DateTimeOffset from, DateTimeOffset to)
    {
        var mid = from + ((to - from) / 2);
        var h = mid.UtcDateTime.TimeOfDay.TotalHours - 0.5;
        var lo = (int)Math.Floor(h);
        var frac = h - lo;
        var a = EventsPerMinuteByHour[((lo % 24) + 24) % 24];
        var b = EventsPerMinuteByHour[(lo + 1) % 24];
        return (a + ((b - a) * frac)) * (to - from).TotalMinutes;
    }
}

/// <summary>Expected values for one window of one service, the reference the relative features are computed against.</summary>
public readonly record struct WindowBaseline(double ExpectedEvents, double ErrorRate, double LatencyP50, double LatencyP95);

/// <summary>Per-service baselines stored with an events model, so scoring computes exactly the features training saw.</summary>
public sealed class ServiceBaselines
{
    private readonly Dictionary<string, ServiceBaseline> _byService;

    public ServiceBaselines(IEnumerable<ServiceBaseline> services)
    {
        _byService = services.ToDictionary(s => s.Service, StringComparer.Ordinal);
    }

    public IReadOnlyCollection<ServiceBaseline> Services => _byService.Values;

    /// <summary>Whether the model saw the service (has a baseline to compare its windows with).</summary>
    public bool Contains(string service) => _byService.ContainsKey(service);

    /// <summary>The baseline of a service's window, or null for a service the model never saw.</summary>
    public WindowBaseline? For(string service, DateTimeOffset from, DateTimeOffset to) =>
        _byService.TryGetValue(service, out var b)
            ? new WindowBaseline(b.ExpectedEvents(from, to), b.ErrorRate, b.LatencyP50, b.LatencyP95)
            : null;

    /// <summary>
    /// Learns baselines from training windows. Rates are means per hour of day (the maximum
    /// likelihood estimate of a Poisson rate); an hour without data borrows the service's
    /// overall rate. Error shares get a floor of 0.1 % so one error is never impossible.
    /// </summary>
    public static ServiceBaselines Fit(IEnumerable<(string Service, DateTimeOffset Start, DateTimeOffset End, WindowAccumulator Events)> windows)
    {
        var stats = new Dictionary<string, Stats>(StringComparer.Ordinal);
        foreach (var (service, start, end, events) in windows)
        {
            if (!stats.TryGetValue(service, out var s))
            {
                stats[service] = s = new Stats();
            }

            var hour = (start + ((end - start) / 2)).UtcDateTime.Hour;
            s.Events[hour] += events.Count;
            s.Minutes[hour] += (end - start).TotalMinutes;
            s.Errors += events.Errors;
            s.Total += events.Count;
            events.AppendLatenciesTo(s.Latencies);
        }

        var result = new List<ServiceBaseline>();
        foreach (var (service, s) in stats)
        {
            var overall = s.Events.Sum() / Math.Max(s.Minutes.Sum(), 1e-9);
            var rates = new double[24];
            for (var h = 0; h < 24; h++)
            {
                rates[h] = s.Minutes[h] > 0 ? s.Events[h] / s.Minutes[h] : overall;
            }

            var latencies = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(s.Latencies);
            latencies.Sort();
            result.Add(new ServiceBaseline(service, rates, Math.Max((double)s.Errors / Math.Max(s.Total, 1), 0.001),
                Percentiles.LinearSorted(latencies, 50), Percentiles.LinearSorted(latencies, 95)));
        }

        result.Sort((a, b) => string.CompareOrdinal(a.Service, b.Service));
        return new ServiceBaselines(result);
    }

    private sealed class Stats
    {
        public double[] Events { get; } = new double[24];

        public double[] Minutes { get; } = new double[24];

        public long Errors { get; set; }

        public long Total { get; set; }

        public List<double> Latencies { get; } = [];
    }
}
