using Helios.Core.Alerts;
using Helios.Core.Detection;

namespace Helios.Core.Tests.Alerts;

public class AlertCooldownTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Cooldown = TimeSpan.FromMinutes(10);

    [Fact]
    public void Decide_NoOpenAlert_Raises() =>
        Assert.Equal(AlertDecision.Raise, AlertCooldown.Decide(null, T0, Severity.Low, Cooldown));

    [Fact]
    public void Decide_WithinCooldownSameSeverity_Suppresses() =>
        Assert.Equal(AlertDecision.Suppress, AlertCooldown.Decide(new OpenAlert(Guid.NewGuid(), T0, Severity.High), T0.AddMinutes(5), Severity.High, Cooldown));

    [Fact]
    public void Decide_WithinCooldownHigherSeverity_Escalates() =>
        Assert.Equal(AlertDecision.Escalate, AlertCooldown.Decide(new OpenAlert(Guid.NewGuid(), T0, Severity.Medium), T0.AddMinutes(5), Severity.Critical, Cooldown));

    [Fact]
    public void Decide_AfterCooldown_Raises() =>
        Assert.Equal(AlertDecision.Raise, AlertCooldown.Decide(new OpenAlert(Guid.NewGuid(), T0, Severity.High), T0.AddMinutes(10), Severity.Low, Cooldown));

    [Fact]
    public void AlertIds_SameServiceAndWindow_SameId()
    {
        Assert.Equal(AlertIds.For("a", T0), AlertIds.For("a", T0));
        Assert.NotEqual(AlertIds.For("a", T0), AlertIds.For("b", T0));
        Assert.NotEqual(AlertIds.For("a", T0), AlertIds.For("a", T0.AddMinutes(5)));
    }

    [Fact]
    public void Decide_TheAlertsOwnWindowReplayed_RaisesItAgain()
    {
        var start = new DateTimeOffset(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);
        var open = new OpenAlert(Guid.NewGuid(), start, Severity.Critical);
        Assert.Equal(AlertDecision.Raise, AlertCooldown.Decide(open, start, Severity.Critical, TimeSpan.FromMinutes(10)));
    }
}
