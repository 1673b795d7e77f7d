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
    public static IEnumerable<SyntheticEvent> Generate(DateTimeOffset start, DateTimeOffset end, double baseRps, ulong seed, IReadOnlyList<SyntheticService>? services = null)
    {
        services ??= Services;
        var rng = new Xoshiro256(seed);
        var buffer = new List<SyntheticEvent>();
        for (var minute = start; minute < end; minute = minute.AddMinutes(1))
        {
            var season = Seasonality(minute);
            buffer.Clear();
            foreach (var s in services)
            {
                var count = Poisson(baseRps * s.Share * season * 60, ref rng);
                for (var i = 0; i < count; i++)
                {
                    var at = minute.AddTicks((long)(rng.NextDouble() * TimeSpan.TicksPerMinute));
                    if (at >= end)
                    {
                        continue;
                    }

                    var isError = rng.NextDouble() < s.ErrorRate;
                    var level = isError ? (rng.NextDouble() < 0.1 ? EventLevel.Critical : EventLevel.Error) : (rng.NextDouble() < 0.05 ? EventLevel.Warn : EventLevel.Info);
                    var latency = Math.Exp(s.LatencyMu + (s.LatencySigma * rng.NextGaussian()));
                    buffer.Add(new SyntheticEvent(at, s, level, latency, s.Endpoints[rng.NextInt(s.Endpoints.Count)]));
                }
            }

            buffer.Sort((a, b) => a.Timestamp.CompareTo(b.Timestamp));
            foreach (var e in buffer)
            {
                yield return e;
            }
        }
    }

    /// <summary>
    /// Feature rows of every full window of normal traffic over [start, end), through the same
    /// accumulator the detector uses. Windows below <paramref name="minEvents"/> are skipped, as when serving.
    /// </summary>
    public static double[] TrainingWindows(DateTimeOffset start, DateTimeOffset end, TimeSpan window, double baseRps, ulong seed, int minEvents, out int rows)
    {
        var windows = new EventTimeWindows(window, TimeSpan.Zero);
        var features = new List<double>();
        rows = 0;
        foreach (var e in Generate(start, end, baseRps, seed))
        {
            windows.Add(e.ToTelemetryEventLite());
            foreach (var closed in windows.DrainClosed())
            {
                rows += Append(closed, minEvents, features);
            }
        }

        // Windows still open at the end are complete only if they end at or before 'end'.
        windows.Add(new TelemetryEvent(end.AddTicks(window.Ticks), "~flush", EventLevel.Info, "", null, null, null));
        foreach (var closed in windows.DrainClosed())
        {
            if (closed.Service != "~flush" && closed.End <= end)
            {
                rows += Append(closed, minEvents, features);
            }
        }

        return [.. features];
    }

    private static int Append(ClosedWindow w, int minEvents, List<double> features)
    {
        if (w.Events.Count < minEvents)
        {
            return 0;
        }

        features.AddRange(w.Events.ToFeatures());
        return 1;
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
