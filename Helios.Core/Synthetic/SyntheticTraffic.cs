using System.Text.Json;
using Helios.Core.Detection;
using Helios.Core.Events;
using Helios.Core.Features;
using Helios.Core.Windows;

namespace Helios.Core.Synthetic;

/// <summary>A synthetic service (SPEC section 6): share of the base rate, lognormal latency, base error rate.</summary>
public sealed record SyntheticService(string Name, double Share, double LatencyMu, double LatencySigma, double ErrorRate, IReadOnlyList<string> Endpoints);

public readonly record struct SyntheticEvent(DateTimeOffset Timestamp, SyntheticService Service, EventLevel Level, double LatencyMs, string Endpoint)
{
    public TelemetryEvent ToTelemetryEvent()
    {
        var metadata = JsonSerializer.SerializeToElement(new Dictionary<string, object>
        {
            ["latency_ms"] = Math.Round(LatencyMs, 3),
            ["endpoint"] = Endpoint,
            ["http_method"] = Endpoint.StartsWith("/api/v1/search", StringComparison.Ordinal) ? "GET" : "POST",
            ["status_code"] = Level >= EventLevel.Error ? 500 : 200,
        });
        return new TelemetryEvent(Timestamp, Service.Name, Level, Level >= EventLevel.Error ? "request failed" : "request handled", metadata, null, null)
        {
            LatencyMs = LatencyMs,
            Endpoint = Endpoint,
        };
    }
}

/// <summary>Seeded, labelled-normal microservice traffic in simulated time (runs as fast as the machine allows).</summary>
public static class SyntheticTraffic
{
    public static readonly IReadOnlyList<SyntheticService> Services =
    [
        Service("api-gateway", .30, 4.6, .5, .005),
        Service("auth-service", .10, 3.8, .4, .002),
        Service("user-service", .15, 4.2, .5, .003),
        Service("payment-service", .05, 5.0, .7, .010),
        Service("inventory-service", .10, 4.4, .5, .005),
        Service("notification-service", .08, 4.8, .9, .015),
        Service("recommendation-engine", .07, 5.3, .6, .008),
        Service("search-service", .15, 4.5, .6, .005),
    ];

    /// <summary>Default event rate of the whole synthetic estate, events per second.</summary>
    public const double DefaultBaseRps = 2.0;

    private static SyntheticService Service(string name, double share, double mu, double sigma, double errors)
    {
        var stem = name.Split('-')[0];
        return new SyntheticService(name, share, mu, sigma, errors,
            [$"/api/v1/{stem}", $"/api/v1/{stem}/{{id}}", $"/api/v1/{stem}/search", $"/api/v1/{stem}/health"]);
    }

    /// <summary>Daily seasonality: 1.45 + 1.05 cos((hour - 14) pi / 12), peak at 14:00 UTC.</summary>
    public static double Seasonality(DateTimeOffset t)
    {
        var hour = t.UtcDateTime.TimeOfDay.TotalHours;
        return 1.45 + (1.05 * Math.Cos((hour - 14) * Math.PI / 12));
    }

    /// <summary>Normal traffic for [start, end), minute by minute, in time order per minute.</summary>
    public static IEnumerable<SyntheticEvent> Generate(DateTimeOffset start, DateTimeOffset end, double baseRps, ulong seed, IReadOnlyList<SyntheticService>? services = null) =>
        Generate(start, end, baseRps, seed, services, []);

    /// <summary>
    /// The generator behind <see cref="Generate(DateTimeOffset, DateTimeOffset, double, ulong, IReadOnlyList{SyntheticService}?)"/>
    /// with scenarios applied; with no scenario active it draws exactly the normal stream.
    /// </summary>
    internal static IEnumerable<SyntheticEvent> Generate(DateTimeOffset start, DateTimeOffset end, double baseRps, ulong seed, IReadOnlyList<SyntheticService>? services, IReadOnlyList<ChaosScenario> plan)
    {
        services ??= Services;
        var rng = new Xoshiro256(seed);
        var buffer = new List<SyntheticEvent>();
        var active = new List<ChaosScenario>();
        var impacts = new List<(ChaosScenario Scenario, ServiceImpact Impact)>();
        var next = 0;
        for (var minute = start; minute < end; minute = minute.AddMinutes(1))
        {
            var minuteEnd = minute.AddMinutes(1);
            active.RemoveAll(s => s.End <= minute);
            while (next < plan.Count && plan[next].Start < minuteEnd)
            {
                if (plan[next].End > minute)
                {
                    active.Add(plan[next]);
                }

                next++;
            }

            var season = Seasonality(minute);
            buffer.Clear();
            foreach (var s in services)
            {
                impacts.Clear();
                foreach (var scenario in active)
                {
                    foreach (var impact in scenario.Impacts)
                    {
                        if (impact.Service == s.Name)
                        {
                            impacts.Add((scenario, impact));
                        }
                    }
                }

                var lambda = baseRps * s.Share * season * 60;
                var count = Poisson(lambda, ref rng);
                for (var i = 0; i < count; i++)
                {
                    var at = minute.AddTicks((long)(rng.NextDouble() * TimeSpan.TicksPerMinute));
                    if (at < end)
                    {
                        buffer.Add(Event(s, at, impacts, ref rng));
                    }
                }

                // A surge adds the extra events inside the part of the minute it covers.
                foreach (var (scenario, impact) in impacts)
                {
                    var covered = scenario.Overlap(minute, minuteEnd);
                    if (impact.RateFactor <= 1 || covered <= TimeSpan.Zero)
                    {
                        continue;
                    }

                    var from = scenario.Start > minute ? scenario.Start : minute;
                    var extra = Poisson(lambda * (impact.RateFactor - 1) * (covered / TimeSpan.FromMinutes(1)), ref rng);
                    for (var i = 0; i < extra; i++)
                    {
                        var at = from.AddTicks((long)(rng.NextDouble() * covered.Ticks));
                        if (at < end)
                        {
                            buffer.Add(Event(s, at, impacts, ref rng));
                        }
                    }
                }
            }

            buffer.Sort((a, b) => a.Timestamp.CompareTo(b.Timestamp));
            foreach (var e in buffer)
            {
                yield return e;
            }
        }
    }

    private static SyntheticEvent Event(SyntheticService s, DateTimeOffset at, List<(ChaosScenario Scenario, ServiceImpact Impact)> impacts, ref Xoshiro256 rng)
    {
        double errorRate = s.ErrorRate, latencyFactor = 1;
        foreach (var (scenario, impact) in impacts)
        {
            if (at >= scenario.Start && at < scenario.End)
            {
                errorRate = Math.Max(errorRate, impact.ErrorRate);
                latencyFactor *= impact.LatencyFactor;
            }
        }

        var isError = rng.NextDouble() < errorRate;
        var level = isError ? (rng.NextDouble() < 0.1 ? EventLevel.Critical : EventLevel.Error) : (rng.NextDouble() < 0.05 ? EventLevel.Warn : EventLevel.Info);
        var latency = Math.Exp(s.LatencyMu + (s.LatencySigma * rng.NextGaussian())) * latencyFactor;
        return new SyntheticEvent(at, s, level, latency, s.Endpoints[rng.NextInt(s.Endpoints.Count)]);
    }

    /// <summary>
    /// Every full window of an event stream over [.., end), per service, closed by the same
    /// <see cref="EventTimeWindows"/> the detector uses (the stream is in time order, so no lateness).
    /// </summary>
    public static List<ClosedWindow> Windows(IEnumerable<SyntheticEvent> events, TimeSpan window, DateTimeOffset end)
    {
        var windows = new EventTimeWindows(window, TimeSpan.Zero);
        var result = new List<ClosedWindow>();
        var now = DateTimeOffset.UnixEpoch;
        foreach (var e in events)
        {
            windows.Add(e.ToTelemetryEventLite(), now: now);
            result.AddRange(windows.DrainClosed(now));
        }

        // Windows still open at the end are complete only if they end at or before 'end'.
        windows.Add(new TelemetryEvent(end.AddTicks(window.Ticks), "~flush", EventLevel.Info, "", null, null, null), now: now);
        result.AddRange(windows.DrainClosed(now).Where(w => w.Service != "~flush" && w.End <= end));
        return result;
    }

    /// <summary>
    /// Seed-feature (events v1) rows of every full window of normal traffic over [start, end),
    /// through the same accumulator the detector uses. Windows below <paramref name="minEvents"/> are skipped, as when serving.
    /// </summary>
    public static double[] TrainingWindows(DateTimeOffset start, DateTimeOffset end, TimeSpan window, double baseRps, ulong seed, int minEvents, out int rows)
    {
        var features = new List<double>();
        rows = 0;
        foreach (var w in Windows(Generate(start, end, baseRps, seed), window, end))
        {
            if (w.Events.Count >= minEvents)
            {
                features.AddRange(w.Events.ToFeatures());
                rows++;
            }
        }

        return [.. features];
    }

    private static TelemetryEvent ToTelemetryEventLite(this SyntheticEvent e) =>
        new(e.Timestamp, e.Service.Name, e.Level, "", null, null, null) { LatencyMs = e.LatencyMs, Endpoint = e.Endpoint };

    private static int Poisson(double lambda, ref Xoshiro256 rng)
    {
        if (lambda <= 0)
        {
            return 0;
        }

        if (lambda > 30)
        {
            return Math.Max(0, (int)Math.Round(lambda + (Math.Sqrt(lambda) * rng.NextGaussian())));
        }

        var limit = Math.Exp(-lambda);
        var k = 0;
        var p = rng.NextDouble();
        while (p > limit)
        {
            k++;
            p *= rng.NextDouble();
        }

        return k;
    }
}
