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

    /// <summary>
    /// The alert for a window whose corroborated surprise reached the threshold. The normalized score is the
    /// larger of the forest's and the evidence's (0.5 at the threshold, about 0.82 at twice it, 0.93 at three
    /// times), so severity follows how far past the threshold the evidence went, or the error rate.
    /// </summary>
    public static AnomalyAlert ForEvidence(string service, DateTimeOffset start, DateTimeOffset end, double[] features, Assessment assessment,
        Evidence evidence, double threshold, long modelVersion, DateTimeOffset now)
    {
        var (normalized, confidence) = AnomalyModel.NormalizeExtreme(evidence.Value, threshold);
        var raised = assessment with
        {
            IsAnomaly = true,
            Normalized = Math.Max(assessment.Normalized, normalized),
            Confidence = Math.Max(assessment.FlaggedByForest ? assessment.Confidence : 0, confidence),
        };
        return ForEventWindow(service, start, end, features, raised, modelVersion, now) with
        {
            DetectedBy = AlertRules.Evidence,
            Evidence = Math.Round(evidence.Value, 4),
            EvidenceThreshold = threshold,
            Explanation = Explanation.DescribeEvidence(features, evidence, threshold, assessment),
        };
    }
}
