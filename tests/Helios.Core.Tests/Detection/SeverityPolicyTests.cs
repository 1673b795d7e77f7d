using Helios.Core.Detection;

namespace Helios.Core.Tests.Detection;

public class SeverityPolicyTests
{
    [Theory]
    [InlineData(0.95, 0.0, Severity.Critical)]
    [InlineData(0.55, 0.6, Severity.Critical)]
    [InlineData(0.80, 0.0, Severity.High)]
    [InlineData(0.55, 0.35, Severity.High)]
    [InlineData(0.65, 0.0, Severity.Medium)]
    [InlineData(0.55, 0.2, Severity.Medium)]
    [InlineData(0.55, 0.01, Severity.Low)]
    public void Classify_EveryRungIsReachable(double normalized, double errorRate, Severity expected) =>
        Assert.Equal(expected, SeverityPolicy.Classify(normalized, errorRate));
}
