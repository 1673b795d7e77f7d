namespace Helios.Core.Detection;

public enum Severity { Low, Medium, High, Critical }

/// <summary>
/// SPEC severity ladder for anomalous results: the normalized score (0.5 at the model's own
/// threshold, so every rung is reachable) or the error rate, whichever is worse.
/// </summary>
public static class SeverityPolicy
{
    public static Severity Classify(double normalized, double errorRate) => (normalized, errorRate) switch
    {
        _ when normalized >= 0.9 || errorRate > 0.5 => Severity.Critical,
        _ when normalized >= 0.75 || errorRate > 0.3 => Severity.High,
        _ when normalized >= 0.6 || errorRate > 0.15 => Severity.Medium,
        _ => Severity.Low,
    };

    public static string Name(Severity severity) => severity switch
    {
        Severity.Low => "low",
        Severity.Medium => "medium",
        Severity.High => "high",
        _ => "critical",
    };

    public static bool TryParse(string? text, out Severity severity)
    {
        switch (text?.ToLowerInvariant())
        {
            case "low": severity = Severity.Low; return true;
            case "medium": severity = Severity.Medium; return true;
            case "high": severity = Severity.High; return true;
            case "critical": severity = Severity.Critical; return true;
            default: severity = default; return false;
        }
    }
}
