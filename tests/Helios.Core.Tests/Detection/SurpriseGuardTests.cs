using Helios.Core.Detection;
using Helios.Core.Features;

namespace Helios.Core.Tests.Detection;

public sealed class SurpriseGuardTests
{
    [Fact]
    public void Score_IsTheLargestSurprise()
    {
        var row = new double[EventWindowFeatures.Schema.Count];
        row[EventWindowFeatures.RateSurprise] = 1.5;
        row[EventWindowFeatures.ErrorSurprise] = 4;
        row[EventWindowFeatures.SlowSurprise] = 2;
        row[EventWindowFeatures.TotalEvents] = 1000; // not a surprise feature

        Assert.Equal(4, SurpriseGuard.Score(row));
    }

    [Theory]
    [InlineData(1.0, 0.0, 1.0)] // first window of an incident: its own surprise
    [InlineData(1.0, 1.2, 2.0)] // second moderately surprising window in a row: twice the smaller
    [InlineData(0.1, 9.0, 0.2)] // a normal window after an incident does not inherit it
    [InlineData(6.0, 1.0, 6.0)] // a window surprising on its own keeps its own surprise
    public void Persistent_TwoWindows_AccumulatesOnlyWhileBothAreUnusual(double current, double previous, double expected) =>
        Assert.Equal(expected, SurpriseGuard.Persistent(current, previous), 12);
}
