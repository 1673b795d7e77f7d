using System.Globalization;
using Helios.Core.Detection;

namespace Helios.Core.Alerts;

public static class Explanation
{
    /// <summary>A sentence naming the features that drove the score, with values and baselines.</summary>
    public static string Describe(Assessment assessment, int top = 3)
    {
        var parts = assessment.Contributions.Take(top).Where(c => c.Share > 0.05 || c == assessment.Contributions[0]).Select(c =>
            string.Create(CultureInfo.InvariantCulture,
                $"{c.Feature} {c.Value:0.###} vs baseline {c.Baseline:0.###} ({(c.RobustZ >= 0 ? "+" : "")}{c.RobustZ:0.0} robust sd, {c.Share:P0} of the deviation)"));
        var verdict = assessment.IsAnomaly
            ? string.Create(CultureInfo.InvariantCulture, $"Anomalous (normalized score {assessment.Normalized:0.00}, threshold 0.50)")
            : string.Create(CultureInfo.InvariantCulture, $"Normal (normalized score {assessment.Normalized:0.00}, threshold 0.50)");
        return $"{verdict}: {string.Join("; ", parts)}.";
    }
}
