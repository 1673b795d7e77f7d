using Helios.Core.Detection;
using Helios.Core.Evaluation;

namespace Helios.Core.Tests.Detection;

public class IsolationForestTests
{
    private static double[] Gaussian(int rows, int cols, ulong seed)
    {
        var rng = new Xoshiro256(seed);
        var data = new double[rows * cols];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = rng.NextGaussian();
        }

        return data;
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 1)]
    [InlineData(256, 10.244770920116851)]
    public void AveragePathLength_MatchesScikitLearn(double n, double expected) =>
        Assert.Equal(expected, IsolationForest.AveragePathLength(n), 9);

    [Fact]
    public void Fit_SameSeed_SameScores_AndParallelEqualsSingleThread()
    {
        var data = Gaussian(3000, 5, 1);
        var a = IsolationForest.Fit(data, 5, new IsolationForestOptions { Seed = 7, MaxDegreeOfParallelism = 1 });
        var b = IsolationForest.Fit(data, 5, new IsolationForestOptions { Seed = 7 });
        var c = IsolationForest.Fit(data, 5, new IsolationForestOptions { Seed = 8 });
        var row = new double[] { 0.3, -1, 2, 0, 0.5 };
        Assert.Equal(a.ScoreSample(row), b.ScoreSample(row));
        Assert.Equal(a.Offset, b.Offset);
        Assert.NotEqual(a.ScoreSample(row), c.ScoreSample(row));
    }

    /// <summary>The branch-free complete-tree layout must give exactly what walking the pre-order nodes gives.</summary>
    [Theory]
    [InlineData(3000, 7, 256)] // depth 8, with padded shallow leaves
    [InlineData(40, 3, 256)] // psi = n = 40: depth 6
    [InlineData(9000, 2, 8192)] // depth 13: beyond the layout, pre-order walk
    public void ScoreSamples_AnyLayout_EqualsPreOrderWalk(int rows, int cols, int maxSamples)
    {
        var data = Gaussian(rows, cols, 11);
        var forest = IsolationForest.Fit(data, cols, new IsolationForestOptions { MaxSamples = maxSamples, Trees = 50 });
        var probes = Gaussian(500, cols, 12);
        probes[0] = double.NaN;
        probes[cols] = 1e300;
        var single = new double[500];
        var parallel = new double[500];
        forest.ScoreSamples(probes, single, maxDegreeOfParallelism: 1);
        forest.ScoreSamples(probes, parallel);
        for (var r = 0; r < 500; r++)
        {
            var row = probes.AsSpan(r * cols, cols);
            var walked = forest.ScoreFromPathSum(forest.WalkPreOrder(row));
            Assert.Equal(walked, single[r]);
            Assert.Equal(single[r], parallel[r]);
            Assert.Equal(single[r], forest.ScoreSample(row));
        }
    }

    [Fact]
    public void ScoreSamples_ManyRowsInParallel_EqualsSingleThread()
    {
        var data = Gaussian(20_000, 7, 5);
        var forest = IsolationForest.Fit(data, 7, new IsolationForestOptions());
        var single = new double[20_000];
        var parallel = new double[20_000];
        forest.ScoreSamples(data, single, maxDegreeOfParallelism: 1);
        forest.ScoreSamples(data, parallel);
        Assert.Equal(single, parallel);
    }

    [Fact]
    public void Fit_OffsetIsContaminationQuantile_OfTrainingScores()
    {
        var data = Gaussian(4000, 4, 2);
        var forest = IsolationForest.Fit(data, 4, new IsolationForestOptions { Contamination = 0.05 });
        var scores = new double[4000];
        forest.ScoreSamples(data, scores);
        var flagged = scores.Count(s => s - forest.Offset < 0);
        Assert.InRange(flagged, 190, 210);
        Assert.All(scores, s => Assert.InRange(s, -1, 0));
    }

    [Fact]
    public void ScoreSample_OutlierScoresLowerThanInlier()
    {
        var forest = IsolationForest.Fit(Gaussian(2000, 3, 3), 3, new IsolationForestOptions());
        var inlier = forest.ScoreSample([0, 0, 0]);
        var outlier = forest.ScoreSample([8, 0, 0]);
        Assert.True(outlier < inlier);
        Assert.True(forest.Decision([5, 5, 5]) < 0);
        Assert.True(forest.Decision([0, 0, 0]) > 0);
    }

    [Fact]
    public void Fit_ConstantColumn_IsNeverSplitOn()
    {
        var data = Gaussian(500, 2, 4);
        for (var r = 0; r < 500; r++)
        {
            data[(r * 2) + 1] = 3;
        }

        var forest = IsolationForest.Fit(data, 2, new IsolationForestOptions());
        Assert.DoesNotContain(forest.Nodes.ToArray(), n => n.Feature == 1);
    }

    /// <summary>ROC-AUC of score_samples on the small ODDS sets, within 0.02 of scikit-learn 1.2.1 (seeds 0 to 4).</summary>
    [Theory]
    [InlineData("breastw", 0.988)]
    [InlineData("ionosphere", 0.857)]
    [InlineData("pima", 0.670)]
    [InlineData("arrhythmia", 0.807)]
    [InlineData("satellite", 0.696)]
    public void ScoreSamples_OddsDataSet_RocAucMatchesScikitLearn(string name, double sklearnAuc)
    {
        var (_, rows, cols, labels) = BenchData.LoadOdds(name);
        var aucs = new List<double>();
        for (ulong seed = 0; seed < 5; seed++)
        {
            var forest = IsolationForest.Fit(rows, cols, new IsolationForestOptions { Seed = seed, Contamination = 0.1 });
            var scores = new double[labels.Length];
            forest.ScoreSamples(rows, scores);
            aucs.Add(Metrics.RocAuc(scores.Select(s => -s).ToArray(), labels));
        }

        Assert.InRange(aucs.Average(), sklearnAuc - 0.02, sklearnAuc + 0.02);
    }
}
