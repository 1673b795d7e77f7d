using Helios.Core.Features;
using Helios.Core.Synthetic;

namespace Helios.Core.Tests.Synthetic;

public class ChaosScenariosTests
{
    private static readonly DateTimeOffset Start = new(2026, 4, 6, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Plan_SameSeed_SameScenarios_OtherSeedDiffers()
    {
        var a = ChaosScenarios.Plan(Start, Start.AddDays(2), 5, 11);
        var b = ChaosScenarios.Plan(Start, Start.AddDays(2), 5, 11);
        var c = ChaosScenarios.Plan(Start, Start.AddDays(2), 5, 12);
        Assert.Equal(a.Select(Describe), b.Select(Describe));
        Assert.NotEqual(a.Select(Describe), c.Select(Describe));
    }

    [Fact]
    public void Plan_PerType_SpecRangesAndNoOverlap()
    {
        var plan = ChaosScenarios.Plan(Start, Start.AddDays(3), 10, 5);
        Assert.Equal(60, plan.Count);
        Assert.All(ChaosScenarios.Types, t => Assert.Equal(10, plan.Count(p => p.Type == t)));
        for (var i = 1; i < plan.Count; i++)
        {
            Assert.True(plan[i].Start >= plan[i - 1].End + ChaosScenarios.MinGap);
        }

        foreach (var p in plan)
        {
            var (min, max) = ChaosScenarios.DurationRange(p.Type);
            Assert.InRange(p.Duration, min, max);
            Assert.True(p.Start >= Start && p.End <= Start.AddDays(3));
            Assert.Equal(p.Impacts.Count, p.Impacts.Select(i => i.Service).Distinct().Count());
            switch (p.Type)
            {
                case ScenarioType.LatencySpike:
                    Assert.InRange(Assert.Single(p.Impacts).LatencyFactor, 4, 6);
                    break;
                case ScenarioType.ErrorStorm:
                    Assert.InRange(Assert.Single(p.Impacts).ErrorRate, .30, .50);
                    break;
                case ScenarioType.PartialOutage:
                    Assert.InRange(Assert.Single(p.Impacts).ErrorRate, .60, .80);
                    Assert.InRange(p.Impacts[0].LatencyFactor, 1.8, 2.5);
                    break;
                case ScenarioType.TrafficSurge:
                    Assert.InRange(Assert.Single(p.Impacts).RateFactor, 6, 10);
                    break;
                case ScenarioType.CascadingTimeout:
                    Assert.Equal(3, p.Impacts.Count);
                    Assert.InRange(p.Impacts[0].LatencyFactor, 5, 7);
                    Assert.All(p.Impacts.Skip(1), i => Assert.Equal(.20, i.ErrorRate));
                    break;
                case ScenarioType.DependencyFailure:
                    Assert.InRange(p.Impacts.Count, 3, 5);
                    Assert.All(p.Impacts, i => Assert.InRange(i.ErrorRate, .15, .25));
                    break;
            }
        }
    }

    [Fact]
    public void Plan_SlotsTooShort_Throws()
    {
        Assert.Throws<ArgumentException>(() => ChaosScenarios.Plan(Start, Start.AddHours(1), 1, 1));
    }

    [Fact]
    public void Label_Coverage_AnomalousPartialOrNormal()
    {
        var s = new ChaosScenario(0, ScenarioType.ErrorStorm, Start.AddMinutes(7), TimeSpan.FromMinutes(6), [new("payment-service", ErrorRate: .4)]);
        ChaosScenario[] plan = [s];
        // [5, 10) is covered 3 of 5 min, [10, 15) 3 of 5 min, [0, 5) not at all.
        Assert.Equal(WindowLabel.Anomalous, ChaosScenarios.Label(plan, "payment-service", Start.AddMinutes(5), Start.AddMinutes(10), 0.5).Label);
        Assert.Equal(WindowLabel.Partial, ChaosScenarios.Label(plan, "payment-service", Start.AddMinutes(10), Start.AddMinutes(15), 0.8).Label);
        Assert.Equal(WindowLabel.Normal, ChaosScenarios.Label(plan, "payment-service", Start, Start.AddMinutes(5), 0.5).Label);
        Assert.Equal(WindowLabel.Normal, ChaosScenarios.Label(plan, "auth-service", Start.AddMinutes(5), Start.AddMinutes(10), 0.5).Label);
        Assert.Same(s, ChaosScenarios.Label(plan, "payment-service", Start.AddMinutes(5), Start.AddMinutes(10), 0.5).Scenario);
    }

    [Fact]
    public void Generate_EmptyPlan_EqualsNormalTraffic()
    {
        var normal = SyntheticTraffic.Generate(Start, Start.AddMinutes(20), 2, 9).ToList();
        var chaos = ChaosScenarios.Generate(Start, Start.AddMinutes(20), 2, 9, []).ToList();
        Assert.Equal(normal, chaos);
    }

    [Fact]
    public void Generate_SameSeedAndPlan_SameEvents()
    {
        var plan = ChaosScenarios.Plan(Start, Start.AddHours(3), 1, 4);
        Assert.Equal(ChaosScenarios.Generate(Start, Start.AddHours(3), 2, 4, plan), ChaosScenarios.Generate(Start, Start.AddHours(3), 2, 4, plan));
    }

    [Theory]
    [InlineData(ScenarioType.LatencySpike)]
    [InlineData(ScenarioType.ErrorStorm)]
    [InlineData(ScenarioType.PartialOutage)]
    [InlineData(ScenarioType.TrafficSurge)]
    [InlineData(ScenarioType.CascadingTimeout)]
    [InlineData(ScenarioType.DependencyFailure)]
    public void Generate_EachType_ChangesOnlyWhatItShould(ScenarioType type)
    {
        var at = Start.AddHours(14);
        var plan = ChaosScenarios.Plan(at, at.AddDays(1), 1, 21).Where(p => p.Type == type).ToList();
        var s = Assert.Single(plan) with { Start = at.AddMinutes(10), Duration = TimeSpan.FromMinutes(10) };
        var inside = Summaries(ChaosScenarios.Generate(at, at.AddMinutes(30), 20, 3, [s]), s.Start, s.End);
        var before = Summaries(ChaosScenarios.Generate(at, at.AddMinutes(30), 20, 3, [s]), at, s.Start);
        foreach (var service in SyntheticTraffic.Services)
        {
            var impact = s.Impacts.FirstOrDefault(i => i.Service == service.Name);
            var (count, errors, p50) = inside[service.Name];
            var (normalCount, _, normalP50) = before[service.Name];
            var errorShare = (double)errors / count;
            Assert.InRange(count / (double)normalCount, impact.RateFactor * 0.85, Math.Max(impact.RateFactor, 1) * 1.15);
            Assert.InRange(p50 / normalP50, Math.Max(impact.LatencyFactor, 1) * 0.85, Math.Max(impact.LatencyFactor, 1) * 1.15);
            Assert.InRange(errorShare, Math.Max(impact.ErrorRate - 0.06, 0), Math.Max(impact.ErrorRate, 0.03) + 0.06);
        }
    }

    private static Dictionary<string, (int Count, int Errors, double P50)> Summaries(IEnumerable<SyntheticEvent> events, DateTimeOffset from, DateTimeOffset to) =>
        events.Where(e => e.Timestamp >= from && e.Timestamp < to).GroupBy(e => e.Service.Name).ToDictionary(
            g => g.Key,
            g =>
            {
                var latencies = g.Select(e => e.LatencyMs).ToArray();
                return (g.Count(), g.Count(e => e.Level >= Core.Events.EventLevel.Error), Percentiles.Linear(latencies, 50));
            });

    private static string Describe(ChaosScenario s) =>
        $"{s.Type} {s.Start:O} {s.Duration} {string.Join(';', s.Impacts.Select(i => $"{i.Service}:{i.LatencyFactor:0.###}:{i.ErrorRate:0.###}:{i.RateFactor:0.###}"))}";
}
