using Helios.Core.Evaluation;

namespace Helios.Core.Tests.Evaluation;

public sealed class MetricsTests
{
    private static readonly double[] Scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2];
    private static readonly bool[] Labels = [true, true, false, true, true, false, false, false];

    [Fact]
    public void RocAuc_KnownRanking_MatchesScikitLearn() =>
        Assert.Equal(0.875, Metrics.RocAuc(Scores, Labels), 12); // sklearn.metrics.roc_auc_score

    [Fact]
    public void AveragePrecision_KnownRanking_MatchesScikitLearn() =>
        Assert.Equal((1 + 1 + (3.0 / 4) + (4.0 / 5)) / 4, Metrics.AveragePrecision(Scores, Labels), 12);

    [Fact]
    public void BestF1Threshold_KnownRanking_FlagsTheTopFive()
    {
        var (threshold, f1) = Metrics.BestF1Threshold(Scores, Labels);
        Assert.Equal(0.5, threshold);
        Assert.Equal(2.0 * 4 / (5 + 4), f1, 12);
    }

    [Theory]
    [InlineData(1.0, 0.8)] // only the top two keep precision 1
    [InlineData(0.75, 0.5)] // top five: 4 of 5 (top six would be 4 of 6)
    [InlineData(0.5, 0.2)] // everything: 4 of 8
    public void ThresholdForPrecision_GivesTheLowestThresholdKeepingIt(double minPrecision, double expected) =>
        Assert.Equal(expected, Metrics.ThresholdForPrecision(Scores, Labels, minPrecision));

    [Fact]
    public void Confusion_Of_CountsAndRates()
    {
        var c = Confusion.Of([true, true, false, false], [true, false, true, false]);
        Assert.Equal(new Confusion(1, 1, 1, 1), c);
        Assert.Equal(0.5, c.Precision);
        Assert.Equal(0.5, c.Recall);
        Assert.Equal(0.5, c.F1);
    }
}
