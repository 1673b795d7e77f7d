using Helios.Core.Detection;

namespace Helios.Core.Alerts;

public enum AlertDecision { Raise, Escalate, Suppress }

/// <summary>The last alert raised for a service: what the cooldown compares against.</summary>
public sealed record OpenAlert(Guid Id, DateTimeOffset WindowStart, Severity Severity);

/// <summary>
/// Dedup per SPEC: after an alert for a service, anomalous windows starting within the cooldown
/// raise nothing new unless severity rises (then a new, escalated alert); they are counted on the open one.
/// </summary>
public static class AlertCooldown
{
    public static AlertDecision Decide(OpenAlert? last, DateTimeOffset windowStart, Severity severity, TimeSpan cooldown)
    {
        // The window that raised the open alert, seen again after a restart, raises it again: same id,
        // upserted and republished, so an alert stored just before a crash still reaches the topic.
        if (last is null || windowStart - last.WindowStart >= cooldown || windowStart <= last.WindowStart)
        {
            return AlertDecision.Raise;
        }

        return severity > last.Severity ? AlertDecision.Escalate : AlertDecision.Suppress;
    }
}
