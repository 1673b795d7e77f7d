using System.Globalization;
using Helios.Core.Detection;

namespace Helios.Core.Alerts;

public static class Explanation
{
    /// <summary>A sentence naming the features that drove the score, with values, baselines and shares.</summary>
    public static string Describe(Assessment assessment, int top = 3)
    {
        var verdict = assessment.IsAnomaly
            ? string.Create(CultureInfo.InvariantCulture, $"Anomalous (normalized score {assessment.Normalized:0.00}, threshold 0.50)")
            : string.Create(CultureInfo.InvariantCulture, $"Normal (normalized score {assessment.Normalized:0.00}, threshold 0.50)");
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
