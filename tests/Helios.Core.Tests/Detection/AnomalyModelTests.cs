using Helios.Core.Detection;
using Helios.Core.Features;

namespace Helios.Core.Tests.Detection;

public class AnomalyModelTests
{
    private static readonly FeatureSchema Schema = new("test", 1, ["a", "b", "c"]);

    private static AnomalyModel Train()
    {
        var rng = new Xoshiro256(5);
        var rows = new double[3000 * 3];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = 10 + rng.NextGaussian();
        }

        return AnomalyModel.Train(Schema, rows, new IsolationForestOptions { Contamination = 0.05 });
    }

    [Fact]
    public void RobustScale_ZeroInflatedFeature_UsesMeanAbsoluteDeviation()
    {
        // 90 % zeros, 10 % ones: MAD is 0, so the scale comes from the mean absolute deviation (0.1 x 1.2533).
        var deviations = Enumerable.Range(0, 100).Select(i => i < 90 ? 0.0 : 1.0).ToArray();
        Assert.Equal(0.12533, AnomalyModel.RobustScale(deviations, median: 0), 9);
    }

    [Fact]
    public void RobustScale_SpreadFeature_Is1Point4826Mad()
    {
        var deviations = new double[] { 1, 2, 3, 4, 5 };
        Assert.Equal(1.4826 * 3, AnomalyModel.RobustScale(deviations, median: 10), 9);
    }

    [Fact]
    public void RobustScale_ConstantFeature_GetsATinyRelativeScale() =>
        Assert.Equal(0.5, AnomalyModel.RobustScale(new double[10], median: 50), 12);

    [Fact]
    public void Serialize_RoundTrip_GivesIdenticalAssessments()
    {
        var model = Train();
        var copy = AnomalyModel.Deserialize(model.Serialize(), Schema);
        double[] row = [10, 14, 9];
        Assert.Equal(model.Assess(row), copy.Assess(row), new AssessmentComparer());
        Assert.Equal(model.Manifest with { Features = [] }, copy.Manifest with { Features = [] });
        Assert.Equal(Schema.Hash, copy.Manifest.SchemaHash);
    }

    [Fact]
    public void Serialize_WithServiceBaselines_RoundTrips()
    {
        var baselines = new ServiceBaselines([new ServiceBaseline("svc", [.. Enumerable.Range(1, 24).Select(h => (double)h)], 0.01, 80, 200)]);
        var copy = AnomalyModel.Deserialize(Train().WithServiceBaselines(baselines).Serialize(), Schema);
        var b = Assert.Single(copy.ServiceBaselines!.Services);
        Assert.Equal(baselines.Services.Single().EventsPerMinuteByHour, b.EventsPerMinuteByHour);
        Assert.Equal((0.01, 80.0, 200.0), (b.ErrorRate, b.LatencyP50, b.LatencyP95));
        Assert.Null(copy.ServiceBaselines.For("other", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddMinutes(5)));
    }

    [Fact]
    public void Deserialize_FormatVersion1_StillReads()
    {
        var model = Train();
        var v2 = model.Serialize();
        // A v1 payload is the v2 one without the trailing (empty) baselines length and with version 1.
        var v1 = v2[..^4];
        BitConverter.GetBytes(1).CopyTo(v1, 8);
        var copy = AnomalyModel.Deserialize(v1, Schema);
        double[] row = [10, 14, 9];
        Assert.Equal(model.Assess(row), copy.Assess(row), new AssessmentComparer());
        Assert.Null(copy.ServiceBaselines);
    }

    [Fact]
    public void Deserialize_OtherSchema_FailsClearly()
    {
        var bytes = Train().Serialize();
        var ex = Assert.Throws<ModelSchemaMismatchException>(() => AnomalyModel.Deserialize(bytes, new FeatureSchema("test", 2, ["a", "b", "c"])));
        Assert.Contains("test.v1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("test.v2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Assess_NormalizedIsHalfAtThreshold_AndMonotone()
    {
        var model = Train();
        Assert.Equal(0.5, model.Normalize(0).Normalized, 12);
        Assert.True(model.Normalize(-0.05).Normalized > 0.5);
        Assert.True(model.Normalize(-0.2).Normalized > model.Normalize(-0.05).Normalized);
        Assert.True(model.Normalize(0.05).Normalized < 0.5);
        Assert.Equal(0, model.Normalize(0).Confidence, 12);
    }

    [Fact]
    public void Assess_ExtremeInOneFeature_IsAnomalyAttributedToIt()
    {
        var model = Train();
        var result = model.Assess([10, 40, 10]);
        Assert.True(result.IsAnomaly);
        Assert.Equal("b", result.Contributions[0].Feature);
        Assert.True(result.Contributions[0].Share > 0.8);
        Assert.InRange(result.Normalized, 0.5, 1.0);
    }

    [Fact]
    public void Assess_Anomaly_SharesComeFromPathAttribution()
    {
        var model = Train();
        double[] row = [10, 40, 10];
        var result = model.Assess(row);
        Assert.Equal(model.Attribution(row), result.Contributions);
        Assert.Equal(1, result.Contributions.Sum(c => c.Share), 9);
    }

    [Fact]
    public void Assess_NormalRow_SharesAreDeviationShares()
    {
        var model = Train();
        double[] row = [10.5, 9.5, 10];
        var result = model.Assess(row);
        Assert.False(result.IsAnomaly);
        Assert.Equal(model.Contributions(row), result.Contributions);
    }

    [Fact]
    public void Assess_WithoutGuard_ForestDecides()
    {
        var model = Train();
        Assert.Null(model.Manifest.ExtremeRobustZ);
        var result = model.Assess([10, 40, 10]);
        Assert.Null(result.ExtremeFeature);
        Assert.Equal(result.FlaggedByForest, result.IsAnomaly);
    }

    [Fact]
    public void Assess_WithGuard_OneExtremeFeatureIsAnomalousWithNormalizedAboveHalf()
    {
        var rows = new double[3000 * 3];
        var rng = new Xoshiro256(5);
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = 10 + rng.NextGaussian();
        }

        var model = AnomalyModel.Train(Schema, rows, new IsolationForestOptions { Contamination = 0.05 }, extremeRobustZ: 6);
        var result = model.Assess([10, 10, 10 + 200]);
        Assert.True(result.IsAnomaly);
        Assert.Equal("c", result.ExtremeFeature);
        Assert.InRange(result.Normalized, 0.9, 1);
        Assert.Null(model.Assess([10, 10, 11]).ExtremeFeature);
    }

    [Fact]
    public void Serialize_RoundTrip_KeepsTheExtremeLimit()
    {
        var rows = new double[300 * 3];
        var rng = new Xoshiro256(8);
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = rng.NextGaussian();
        }

        var model = AnomalyModel.Train(Schema, rows, new IsolationForestOptions { Trees = 10 }, extremeRobustZ: 6);
        var copy = AnomalyModel.Deserialize(model.Serialize(), Schema);
        Assert.Equal(6, copy.Manifest.ExtremeRobustZ);
        Assert.Equal("b", copy.Assess([0, 50, 0]).ExtremeFeature);
    }

    [Theory]
    [InlineData(6, 0.5)]
    [InlineData(12, 0.816)]
    [InlineData(18, 0.932)]
    public void NormalizeExtreme_HalfAtLimit_SeveritiesReachable(double z, double expected) =>
        Assert.Equal(expected, AnomalyModel.NormalizeExtreme(z, 6).Normalized, 3);

    [Fact]
    public void Train_NonPositiveExtremeLimit_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => AnomalyModel.Train(Schema, new double[30], new IsolationForestOptions(), 0));

    private sealed class AssessmentComparer : IEqualityComparer<Assessment>
    {
        public bool Equals(Assessment? x, Assessment? y) =>
            x!.Score == y!.Score && x.Normalized == y.Normalized && x.IsAnomaly == y.IsAnomaly && x.Contributions.SequenceEqual(y.Contributions);

        public int GetHashCode(Assessment obj) => obj.Score.GetHashCode();
    }
}
