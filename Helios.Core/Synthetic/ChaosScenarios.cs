using Helios.Core.Detection;

namespace Helios.Core.Synthetic;

/// <summary>The labelled incident types of SPEC section 6.</summary>
public enum ScenarioType
{
    LatencySpike,
    ErrorStorm,
    PartialOutage,
    TrafficSurge,
    CascadingTimeout,
    DependencyFailure,
}

/// <summary>
/// What a scenario does to one service while it lasts: latency multiplied by
/// <paramref name="LatencyFactor"/>, the error probability raised to <paramref name="ErrorRate"/>
/// (when larger than the service's own), the event rate multiplied by <paramref name="RateFactor"/>.
/// </summary>
public readonly record struct ServiceImpact(string Service, double LatencyFactor = 1, double ErrorRate = 0, double RateFactor = 1);

/// <summary>One injected incident: its type, time span and the services it affects.</summary>
public sealed record ChaosScenario(int Id, ScenarioType Type, DateTimeOffset Start, TimeSpan Duration, IReadOnlyList<ServiceImpact> Impacts)
{
    public DateTimeOffset End => Start + Duration;

    public bool Affects(string service) => Impacts.Any(i => i.Service == service);

    /// <summary>How much of [from, to) the scenario covers (for any service it affects).</summary>
    public TimeSpan Overlap(DateTimeOffset from, DateTimeOffset to)
    {
        var start = Start > from ? Start : from;
        var end = End < to ? End : to;
        return end > start ? end - start : TimeSpan.Zero;
    }
}

public enum WindowLabel
{
    /// <summary>No scenario affecting the service touches the window.</summary>
    Normal,

    /// <summary>A scenario affecting the service covers at least the labelling fraction of the window.</summary>
    Anomalous,

    /// <summary>A scenario touches the window but covers less than the fraction: neither rewarded nor penalised.</summary>
    Partial,
}

/// <summary>
/// Seeded chaos plans (SPEC section 6) and their window labels. The period is cut into equal
/// slots, one scenario per slot at a random offset, so scenarios never overlap, every type is
/// spread over all hours of the day, and the slot a window falls in says which scenario (and
/// type) its false alarms belong to.
/// </summary>
public static class ChaosScenarios
{
    /// <summary>Durations: latency_spike as SPEC says (2 to 8 min); the other types last 5 to 15 min.</summary>
    public static (TimeSpan Min, TimeSpan Max) DurationRange(ScenarioType type) => type == ScenarioType.LatencySpike
        ? (TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(8))
        : (TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15));

    /// <summary>Quiet time kept after each scenario before the next slot may start one.</summary>
    public static readonly TimeSpan MinGap = TimeSpan.FromMinutes(10);

    public static IReadOnlyList<ScenarioType> Types { get; } = Enum.GetValues<ScenarioType>();

    /// <summary>snake_case name as the SPEC writes it (latency_spike, error_storm, ...).</summary>
    public static string Name(ScenarioType type) => type switch
    {
        ScenarioType.LatencySpike => "latency_spike",
        ScenarioType.ErrorStorm => "error_storm",
        ScenarioType.PartialOutage => "partial_outage",
        ScenarioType.TrafficSurge => "traffic_surge",
        ScenarioType.CascadingTimeout => "cascading_timeout",
        ScenarioType.DependencyFailure => "dependency_failure",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>
    /// <paramref name="perType"/> scenarios of every type in [start, end), in time order, one per
    /// equal slot; the types are shuffled over the slots. Throws when the slots are too short.
    /// </summary>
    public static IReadOnlyList<ChaosScenario> Plan(DateTimeOffset start, DateTimeOffset end, int perType, ulong seed, IReadOnlyList<SyntheticService>? services = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perType, 1);
        services ??= SyntheticTraffic.Services;
        if (services.Count < 5)
        {
            throw new ArgumentException("Chaos plans need at least five services (dependency_failure affects up to five).", nameof(services));
        }

        var types = new ScenarioType[perType * Types.Count];
        for (var i = 0; i < types.Length; i++)
        {
            types[i] = Types[i % Types.Count];
        }

        var rng = Xoshiro256.ForStream(seed, 0xC4A05);
        Shuffle(types, ref rng);
        var slot = (end - start) / types.Length;
        var longest = Types.Max(t => DurationRange(t).Max);
        if (slot < longest + MinGap)
        {
            throw new ArgumentException($"{types.Length} scenarios need slots of at least {longest + MinGap}; [{start:O}, {end:O}) gives {slot}.");
        }

        var plan = new ChaosScenario[types.Length];
        for (var i = 0; i < types.Length; i++)
        {
            var type = types[i];
            var (min, max) = DurationRange(type);
            var duration = Minutes(min.TotalMinutes + (rng.NextDouble() * (max - min).TotalMinutes));
            var slack = slot - duration - MinGap;
            var at = start + (slot * i) + Minutes(rng.NextDouble() * slack.TotalMinutes);
            plan[i] = new ChaosScenario(i, type, at, duration, Impacts(type, services, ref rng));
        }

        return plan;
    }

    /// <summary>Normal traffic with the plan's scenarios injected (same services, seasonality and seed semantics as <see cref="SyntheticTraffic.Generate"/>).</summary>
    public static IEnumerable<SyntheticEvent> Generate(DateTimeOffset start, DateTimeOffset end, double baseRps, ulong seed, IReadOnlyList<ChaosScenario> plan, IReadOnlyList<SyntheticService>? services = null) =>
        SyntheticTraffic.Generate(start, end, baseRps, seed, services, plan);

    /// <summary>
    /// The label of a service's window: Anomalous when a scenario affecting the service covers at
    /// least <paramref name="minFraction"/> of it, Partial when one covers less, else Normal.
    /// </summary>
    public static (WindowLabel Label, ChaosScenario? Scenario) Label(IReadOnlyList<ChaosScenario> plan, string service, DateTimeOffset from, DateTimeOffset to, double minFraction)
    {
        var needed = (to - from) * minFraction;
        ChaosScenario? partial = null;
        foreach (var s in plan)
        {
            if (s.Start >= to)
            {
                break;
            }

            if (s.End <= from || !s.Affects(service))
            {
                continue;
            }

            var overlap = s.Overlap(from, to);
            if (overlap >= needed && overlap > TimeSpan.Zero)
            {
                return (WindowLabel.Anomalous, s);
            }

            partial ??= s;
        }

        return partial is null ? (WindowLabel.Normal, null) : (WindowLabel.Partial, partial);
    }

    private static ServiceImpact[] Impacts(ScenarioType type, IReadOnlyList<SyntheticService> services, ref Xoshiro256 rng)
    {
        double Between(double lo, double hi, ref Xoshiro256 r) => lo + (r.NextDouble() * (hi - lo));
        switch (type)
        {
            case ScenarioType.LatencySpike:
                return [new(Pick(services, 1, ref rng)[0], LatencyFactor: Between(4, 6, ref rng))];
            case ScenarioType.ErrorStorm:
                return [new(Pick(services, 1, ref rng)[0], ErrorRate: Between(.30, .50, ref rng))];
            case ScenarioType.PartialOutage:
                return [new(Pick(services, 1, ref rng)[0], LatencyFactor: Between(1.8, 2.5, ref rng), ErrorRate: Between(.60, .80, ref rng))];
            case ScenarioType.TrafficSurge:
                return [new(Pick(services, 1, ref rng)[0], RateFactor: Between(6, 10, ref rng))];
            case ScenarioType.CascadingTimeout:
                {
                    // The root times out; two services that wait on it start failing.
                    var names = Pick(services, 3, ref rng);
                    return [new(names[0], LatencyFactor: Between(5, 7, ref rng)), new(names[1], ErrorRate: .20), new(names[2], ErrorRate: .20)];
                }

            case ScenarioType.DependencyFailure:
                {
                    var names = Pick(services, 3 + rng.NextInt(3), ref rng);
                    var impacts = new ServiceImpact[names.Length];
                    for (var i = 0; i < names.Length; i++)
                    {
                        impacts[i] = new(names[i], ErrorRate: Between(.15, .25, ref rng));
                    }

                    return impacts;
                }

            default:
                throw new ArgumentOutOfRangeException(nameof(type));
        }
    }

    private static string[] Pick(IReadOnlyList<SyntheticService> services, int count, ref Xoshiro256 rng)
    {
        var indices = new int[services.Count];
        for (var i = 0; i < indices.Length; i++)
        {
            indices[i] = i;
        }

        Shuffle(indices, ref rng);
        return [.. indices.Take(count).Select(i => services[i].Name)];
    }

    private static void Shuffle<T>(T[] items, ref Xoshiro256 rng)
    {
        for (var i = items.Length - 1; i > 0; i--)
        {
            var j = rng.NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    // Whole seconds keep plans readable in CSV and logs.
    private static TimeSpan Minutes(double minutes) => TimeSpan.FromSeconds(Math.Round(minutes * 60));
}
