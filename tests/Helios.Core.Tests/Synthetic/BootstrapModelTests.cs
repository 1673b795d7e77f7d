using Helios.Core.Alerts;
using Helios.Core.Detection;
using Helios.Core.Events;
using Helios.Core.Features;
using Helios.Core.Synthetic;

namespace Helios.Core.Tests.Synthetic;

public class BootstrapModelTests
{
    private static readonly Lazy<AnomalyModel> Model = new(() => BootstrapModel.TrainEventModel(TimeSpan.FromMinutes(5), 10, 0.05, days: 3).Model);

    [Fact]
    public void Generate_SameSeed_SameEvents()
    {
        var start = new DateTimeOffset(2026, 2, 1, 8, 0, 0, TimeSpan.Zero);
        var a = SyntheticTraffic.Generate(start, start.AddMinutes(10), 2, 9).ToList();
        var b = SyntheticTraffic.Generate(start, start.AddMinutes(10), 2, 9).ToList();
        Assert.Equal(a, b);
        Assert.InRange(a.Count, 1500, 2000);
        Assert.Equal(8, a.Select(e => e.Service.Name).Distinct().Count());
    }

    [Fact]
    public void BootstrapModel_NormalWindowsMostlyPass_ErrorStormIsCritical()
    {
        var start = new DateTimeOffset(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);
        var (normal, storm) = NormalAndStorm(start);
        var model = Model.Value;
        var end = start.AddMinutes(5);
        var flagged = normal.Count(kv => model.Assess(kv.Value.ToFeatures(model.ServiceBaselines!.For(kv.Key, start, end))).IsAnomaly);
        Assert.True(flagged <= 1, $"{flagged} of 8 normal windows flagged");
        var features = storm.ToFeatures(model.ServiceBaselines!.For("payment-service", start, end));
        Assert.Equal(EventWindowFeatures.Schema.Count, features.Length);
        var assessment = model.Assess(features);
        Assert.True(assessment.IsAnomaly);
        var alert = AlertFactory.ForEventWindow("payment-service", start, start.AddMinutes(5), features, assessment, 1, start);
        Assert.Equal("critical", alert.Severity);
        Assert.Contains(alert.TopFeatures, t => t.Feature is "error_rate" or "error_surprise" or "slow_surprise" or "log_p50_ratio" or "avg_latency" or "p95_latency" or "latency_stddev" or "p99_latency");
        Assert.Equal(EventWindowFeatures.Schema.Id, $"{model.Manifest.SchemaName}.v{model.Manifest.SchemaVersion}");
        Assert.False(string.IsNullOrWhiteSpace(alert.Explanation));
    }

    [Fact]
    public void EvidenceRule_NormalWindowsStayBelowTheThreshold_ErrorStormAlertsAndSaysWhy()
    {
        const double Threshold = 6.6;
        var start = new DateTimeOffset(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);
        var end = start.AddMinutes(5);
        var (normal, storm) = NormalAndStorm(start);
        var model = Model.Value;
        var surprises = normal.ToDictionary(kv => kv.Key, kv => SurpriseGuard.Score(kv.Value.ToFeatures(model.ServiceBaselines!.For(kv.Key, start, end))));
        Assert.All(surprises, kv => Assert.True(kv.Value < Threshold, $"{kv.Key}: surprise {kv.Value}"));

        var features = storm.ToFeatures(model.ServiceBaselines!.For("payment-service", start, end));
        var evidence = new Evidence(SurpriseGuard.Score(features), 1, 0);
        Assert.True(evidence.Value >= Threshold);
        var alert = AlertFactory.ForEvidence("payment-service", start, end, features, model.Assess(features), evidence, Threshold, 1, start);

        Assert.Equal(AlertRules.Evidence, alert.DetectedBy);
        Assert.Equal(Threshold, alert.EvidenceThreshold);
        Assert.Equal("critical", alert.Severity);
        Assert.True(alert.NormalizedScore >= 0.5);
        Assert.StartsWith("Anomalous (evidence ", alert.Explanation);
        Assert.Contains("error_surprise", alert.Explanation);
    }

    /// <summary>One 5-minute window of every synthetic service, and payment-service's window again with an error storm (85 % errors, latency x5).</summary>
    private static (Dictionary<string, WindowAccumulator> Normal, WindowAccumulator Storm) NormalAndStorm(DateTimeOffset start)
    {
        var normal = new Dictionary<string, WindowAccumulator>();
        var storm = new WindowAccumulator();
        foreach (var e in SyntheticTraffic.Generate(start, start.AddMinutes(5), SyntheticTraffic.DefaultBaseRps, 77))
        {
            if (!normal.TryGetValue(e.Service.Name, out var acc))
            {
                normal[e.Service.Name] = acc = new WindowAccumulator();
            }

            acc.Add(e.Level, e.LatencyMs, e.Endpoint);
            if (e.Service.Name == "payment-service")
            {
                storm.Add(EventLevel.Error, e.LatencyMs * 5, e.Endpoint);
            }
        }


        return (normal, storm);
    }
}
