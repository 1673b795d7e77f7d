using Helios.Core.Detection;
using Helios.Core.Features;

namespace Helios.Core.Alerts;

public static class AlertFactory
{
    /// <summary>Builds the alert for an anomalous event window (severity from the normalized score or the error rate).</summary>
    public static AnomalyAlert ForEventWindow(string service, DateTimeOffset start, DateTimeOffset end, double[] features, Assessment assessment, long modelVersion, DateTimeOffset now)
    {
        var severity = SeverityPolicy.Classify(assessment.Normalized, features[EventWindowFeatures.ErrorRate]);
        var names = EventWindowFeatures.Schema.Features;
        var values = new Dictionary<string, double>(names.Count);
        for (var i = 0; i < names.Count; i++)
        {
            values[names[i]] = features[i];
        }

        var top = assessment.Contributions.Take(3).Select(c => new TopFeature(c.Feature, c.Value, c.Baseline, Math.Round(c.RobustZ, 3), Math.Round(c.Share, 4))).ToList();
        return new AnomalyAlert(
            AlertIds.For(service, start), service, SeverityPolicy.Name(severity), assessment.Score, assessment.Normalized, assessment.Threshold,
            values, top, Explanation.Describe(assessment), start, end, (int)features[EventWindowFeatures.TotalEvents], modelVersion, now);
    }
}
