using Helios.Core.Evaluation;

namespace Helios.Core.Tests.Evaluation;

public class SlidingWindowsTests
{
    [Theory]
    [InlineData(59, 0)]
    [InlineData(60, 1)]
    [InlineData(89, 1)]
    [InlineData(90, 2)]
    [InlineData(4032, 133)]
    public void Count_Size60Stride30_WholeWindowsOnly(int length, int expected) => Assert.Equal(expected, SlidingWindows.Count(length, 60, 30));

    [Fact]
    public void Labels_WindowOverlappingAnomaly_Anomalous()
    {
        // Ten points, windows of 4 with stride 2 start at 0, 2, 4, 6; point 5 is labelled (window minute 5 to 5).
        var stream = NabDataTests.MinuteStream(10, new TimeRange(NabDataTests.Minute(5), NabDataTests.Minute(5)));

        var labels = SlidingWindows.Labels(stream.PointLabels(), size: 4, stride: 2);

        Assert.Equal([false, true, true, false], labels);
    }

    [Fact]
    public void Labels_AnomalyOnlyInDroppedTail_NoWindowAnomalous()
    {
        var stream = NabDataTests.MinuteStream(11, new TimeRange(NabDataTests.Minute(10), NabDataTests.Minute(12)));

        Assert.Equal([false, false, false, false], SlidingWindows.Labels(stream.PointLabels(), size: 4, stride: 2));
    }

    [Fact]
    public void ZNormalise_Series_MeanZeroPopulationStdOne()
    {
        var z = SlidingWindows.ZNormalise([2, 4, 4, 4, 5, 5, 7, 9]);

        // mean 5, population std 2
        Assert.Equal([-1.5, -0.5, -0.5, -0.5, 0, 0, 1, 2], z);
    }

    [Fact]
    public void ZNormalise_ConstantSeries_Zeros() => Assert.Equal([0.0, 0, 0], SlidingWindows.ZNormalise([3, 3, 3]));

    [Fact]
    public void NeighbourhoodMax_PeakInStream_SpreadsWithinReachOnly()
    {
        double[] scores = [0, 0, 0, 5, 0, 0, 0, 1];

        Assert.Equal([0, 5, 5, 5, 5, 5, 1, 1], WindowScores.NeighbourhoodMax(scores, 2, 2));
        Assert.Equal([0, 0, 0, 5, 5, 5, 0, 1], WindowScores.NeighbourhoodMax(scores, 2, 0));
        Assert.Equal(scores, WindowScores.NeighbourhoodMax(scores, 0, 0));
    }
}
