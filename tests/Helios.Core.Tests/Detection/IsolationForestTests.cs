using System.Globalization;
using Helios.Core.Detection;

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
        var (rows, cols, labels) = LoadOdds(name);
        var aucs = new List<double>();
        for (ulong seed = 0; seed < 5; seed++)
        {
            var forest = IsolationForest.Fit(rows, cols, new IsolationForestOptions { Seed = seed, Contamination = 0.1 });
            var scores = new double[labels.Length];
            forest.ScoreSamples(rows, scores);
            aucs.Add(RocAuc(scores.Select(s => -s).ToArray(), labels));
        }

        Assert.InRange(aucs.Average(), sklearnAuc - 0.02, sklearnAuc + 0.02);
    }

    internal static (double[] Rows, int Cols, bool[] Labels) LoadOdds(string name)
    {
        var path = Path.Combine(SharedData.Root, "odds", name + ".csv");
        Assert.True(File.Exists(path), $"Benchmark data missing: {path} (shared/bench/data must sit beside the repository).");
        var lines = File.ReadAllLines(path).Skip(1).Where(l => l.Length > 0).ToArray();
        var cols = lines[0].Split(',').Length - 1;
        var rows = new double[lines.Length * cols];
        var labels = new bool[lines.Length];
        for (var i = 0; i < lines.Length; i++)
        {
            var parts = lines[i].Split(',');
            for (var c = 0; c < cols; c++)
            {
                rows[(i * cols) + c] = double.Parse(parts[c], CultureInfo.InvariantCulture);
            }

            labels[i] = parts[cols].Trim() is "1" or "1.0";
        }

        return (rows, cols, labels);
    }

    /// <summary>Mann-Whitney ROC-AUC with average ranks for ties.</summary>
    internal static double RocAuc(double[] scores, bool[] labels)
    {
        var order = Enumerable.Range(0, scores.Length).OrderBy(i => scores[i]).ToArray();
        var ranks = new double[scores.Length];
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j + 1 < order.Length && scores[order[j + 1]] == scores[order[i]])
            {
                j++;
            }

            for (var k = i; k <= j; k++)
            {
                ranks[order[k]] = ((i + j) / 2.0) + 1;
            }

            i = j + 1;
        }

        double positives = labels.Count(l => l), negatives = labels.Length - positives;
        var rankSum = labels.Select((l, i) => l ? ranks[i] : 0).Sum();
        return (rankSum - (positives * (positives + 1) / 2)) / (positives * negatives);
    }
}

internal static class SharedData
{
    /// <summary>../shared/bench/data next to the repository (HELIOS_BENCH_DATA overrides).</summary>
    public static string Root
    {
        get
        {
            if (Environment.GetEnvironmentVariable("HELIOS_BENCH_DATA") is { Length: > 0 } overridden)
            {
                return overridden;
            }

            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "bench", "data");
                if (File.Exists(Path.Combine(dir.FullName, "Helios.sln")) || Directory.Exists(candidate))
                {
                    return Directory.Exists(candidate) ? candidate : Path.Combine(dir.FullName, "..", "shared", "bench", "data");
                }
            }

            return Path.Combine("..", "shared", "bench", "data");
        }
    }
}
