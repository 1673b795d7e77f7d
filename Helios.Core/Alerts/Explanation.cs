using System.Globalization;
using Helios.Core.Detection;
using Helios.Core.Features;

namespace Helios.Core.Alerts;

public static class Explanation
{
    private static readonly int[] SurpriseFeatures = [EventWindowFeatures.RateSurprise, EventWindowFeatures.ErrorSurprise, EventWindowFeatures.SlowSurprise];

    /// <summary>A sentence naming the features that drove the score, with values, baselines and shares.</summary>
    public static string Describe(Assessment assessment, int top = 3)
    {
        var verdict = assessment.IsAnomaly
            ? string.Create(CultureInfo.InvariantCulture, $"Anomalous (normalized score {assessment.Normalized:0.00}, threshold 0.50)")
            : string.Create(CultureInfo.InvariantCulture, $"Normal (normalized score {assessment.Normalized:0.00}, threshold 0.50)");
        return Describe(verdict, assessment.Contributions, assessment.IsAnomaly, top);
    }

    /// <summary>
    /// For an alert raised by the corroborated surprise: the evidence against its threshold, the largest
    /// surprise feature in decimal digits (-log10 p against the service's baseline), what corroborated it,
    /// then the features that deviate most, as <see cref="Describe(Assessment, int)"/> names them.
    /// </summary>
    public static string DescribeEvidence(double[] features, Evidence evidence, double threshold, Assessment assessment, int top = 3)
    {
        var largest = SurpriseFeatures.MaxBy(f => features[f]);
        var name = EventWindowFeatures.Schema.Features[largest];
        var carried = evidence switch
        {
            { Windows: > 1 } => string.Create(CultureInfo.InvariantCulture, $", over {evidence.Windows} consecutive windows"),
            { Peers: 1 } => ", with 1 other service in the same window",
            { Peers: > 1 } => string.Create(CultureInfo.InvariantCulture, $", with {evidence.Peers} other services in the same window"),
            _ => string.Empty,
        };
        var verdict = string.Create(CultureInfo.InvariantCulture,
            $"Anomalous (evidence {evidence.Value:0.0} >= threshold {threshold:0.0}; {name} {features[largest]:0.0}, p = 1e-{features[largest]:0.0} against the service's baseline{carried})");
        return Describe(verdict, assessment.Contributions, assessment.IsAnomaly, top);
    }

    /// <summary>
    /// "{verdict}: feature value vs baseline median (robust z, share); ...". For anomalies the share
    /// is of the anomaly score (path attribution); for normal rows, of the total deviation.
    /// </summary>
    public static string Describe(string verdict, IReadOnlyList<FeatureContribution> contributions, bool anomalous, int top = 3)
    {
        if (contributions.Count == 0)
        {
            return verdict + ".";
        }

        var of = anomalous ? "of the anomaly score" : "of the deviation";
        var parts = contributions.Take(top).Where(c => c.Share > 0.05 || c == contributions[0]).Select(c =>
            string.Create(CultureInfo.InvariantCulture,
                $"{c.Feature} {c.Value:0.###} vs baseline {c.Baseline:0.###} ({(c.RobustZ >= 0 ? "+" : "")}{c.RobustZ:0.0} robust sd, {c.Share:P0} {of})"));
        return $"{verdict}: {string.Join("; ", parts)}.";
    }
}
