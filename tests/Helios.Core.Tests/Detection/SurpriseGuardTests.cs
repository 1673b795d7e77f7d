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

    [Fact]
    public void Corroborated_ThreeModerateWindowsInARow_CountThreeTimesTheSmallest() =>
        Assert.Equal(4.5, SurpriseGuard.Corroborated(1.5, 1.6, 1.7, [0, 0, 0, 0, 0, 0, 0]), 12);

    [Fact]
    public void Corroborated_PeerSurprisedInTheSameSlot_CountsTwiceTheSmallerLessTheChancesTaken() =>
        Assert.Equal((2 * 2.0) - Math.Log10(7), SurpriseGuard.Corroborated(2.0, 0, 0, [3.0, 0, 0, 0, 0, 0, 0]), 12);

    [Fact]
    public void Corroborated_ThreePeersSurprised_CountsFourTimesLessTheChoice() =>
        Assert.Equal((4 * 1.5) - Math.Log10(35), SurpriseGuard.Corroborated(1.5, 0, 0, [2.0, 1.8, 1.6, 0.1, 0, 0, 0]), 12); // C(7, 3) = 35

    [Fact]
    public void Corroborated_NormalWindowAmongSurprisedOnes_StaysSmall() =>
        Assert.Equal(0.3, SurpriseGuard.Corroborated(0.1, 9, 9, [9]), 12); // at most three times its own
}
