using System.Diagnostics;
using System.Text.Json.Nodes;
using Helios.Core.Detection;
using Helios.Core.Features;
using Helios.Core.Synthetic;

namespace Helios.Bench;

/// <summary>Scoring throughput of the Isolation Forest on event-window feature rows.</summary>
internal sealed class ScoreBenchmark : IBenchmark
{
    private const int Rows = 1_000_000;
    private const int Features = 7;

    public string Name => "score";

    public string Summary => "score_samples throughput, 1,000,000 rows x 7 features, 100 trees, psi 256";

    public Task<JsonObject> RunAsync(Report report, CancellationToken ct)
    {
        report.Line("Protocol: forest fitted on 7 days of synthetic 5-minute event windows (8 services); 1,000,000 rows drawn from those");
        report.Line("windows with +-10 % jitter; best of 5 runs after a warm-up; one thread = the calling thread only.");
        var (forest, rows) = Prepare();
        var scores = new double[Rows];
        ct.ThrowIfCancellationRequested();

        var single = BestRowsPerSecond(() => forest.ScoreSamples(rows, scores, maxDegreeOfParallelism: 1), Rows);
        var all = BestRowsPerSecond(() => forest.ScoreSamples(rows, scores), Rows);
        const int few = 200_000;
        var perRow = BestRowsPerSecond(() =>
        {
            for (var r = 0; r < few; r++)
            {
                scores[r] = forest.ScoreSample(rows.AsSpan(r * Features, Features));
            }
        }, few);
        var walk = BestRowsPerSecond(() =>
        {
            for (var r = 0; r < few; r++)
            {
                scores[r] = forest.ScoreFromPathSum(forest.WalkPreOrder(rows.AsSpan(r * Features, Features)));
            }
        }, few);

        report.Table(["method", "threads", "rows_per_s", "ns_per_row"],
        [
            ["ScoreSamples (blocked, complete-tree layout)", 1, single, 1e9 / single],
            ["ScoreSamples (blocked, complete-tree layout)", Environment.ProcessorCount, all, 1e9 / all],
            ["ScoreSample one row at a time", 1, perRow, 1e9 / perRow],
            ["pre-order node walk (the stored layout)", 1, walk, 1e9 / walk],
            ["scikit-learn 1.2.1 score_samples (reference)", 1, 37_000.0, 1e9 / 37_000],
        ]);
        return Task.FromResult(new JsonObject
        {
            ["rows_per_s_1thread"] = Math.Round(single),
            ["rows_per_s_all"] = Math.Round(all),
            ["threads_all"] = Environment.ProcessorCount,
            ["rows_per_s_single_row_api"] = Math.Round(perRow),
            ["rows_per_s_preorder_walk"] = Math.Round(walk),
        });
    }

    private static (IsolationForest Forest, double[] Rows) Prepare()
    {
        var start = BootstrapModel.TrainingStart;
        var training = SyntheticTraffic.TrainingWindows(start, start.AddDays(7), TimeSpan.FromMinutes(5), SyntheticTraffic.DefaultBaseRps, 42, 10, out var windows);
        var forest = IsolationForest.Fit(training, EventWindowFeatures.SeedSchema.Count, new IsolationForestOptions { Seed = 42 });
        var rng = new Xoshiro256(7);
        var rows = new double[Rows * Features];
        for (var r = 0; r < Rows; r++)
        {
            var source = rng.NextInt(windows) * Features;
            for (var f = 0; f < Features; f++)
            {
                rows[(r * Features) + f] = training[source + f] * (0.9 + (0.2 * rng.NextDouble()));
            }
        }

        return (forest, rows);
    }

    internal static double BestRowsPerSecond(Action run, int rows)
    {
        run();
        var best = TimeSpan.MaxValue;
        for (var i = 0; i < 5; i++)
        {
            var watch = Stopwatch.StartNew();
            run();
            best = watch.Elapsed < best ? watch.Elapsed : best;
        }

        return rows / best.TotalSeconds;
    }
}
