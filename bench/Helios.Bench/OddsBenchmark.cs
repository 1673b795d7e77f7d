using System.Diagnostics;
using System.Text.Json.Nodes;
using Helios.Core.Detection;
using Helios.Core.Evaluation;

namespace Helios.Bench;

/// <summary>ROC-AUC parity with scikit-learn 1.2.1 on the eleven ODDS sets.</summary>
internal sealed class OddsBenchmark : IBenchmark
{
    public string Name => "odds";

    public string Summary => "Isolation Forest ROC-AUC on the ODDS sets vs scikit-learn 1.2.1";

    public Task<JsonObject> RunAsync(Report report, CancellationToken ct)
    {
        report.Line("Protocol: 100 trees, psi 256, fit and score_samples on the whole set, seeds 0 to 4, mean ROC-AUC; tolerance 0.02.");
        var rows = new List<object?[]>();
        var figures = new JsonObject();
        var within = 0;
        foreach (var (name, reference) in BenchData.OddsSets)
        {
            ct.ThrowIfCancellationRequested();
            var data = BenchData.LoadOdds(name);
            var aucs = new List<double>();
            var fit = new Stopwatch();
            var score = new Stopwatch();
            var scores = new double[data.Count];
            var anomaly = new double[data.Count];
            for (ulong seed = 0; seed < 5; seed++)
            {
                fit.Start();
                var forest = IsolationForest.Fit(data.Rows, data.Columns, new IsolationForestOptions { Seed = seed, Contamination = 0.1 });
                fit.Stop();
                score.Start();
                forest.ScoreSamples(data.Rows, scores);
                score.Stop();
                for (var i = 0; i < scores.Length; i++)
                {
                    anomaly[i] = -scores[i];
                }

                aucs.Add(Metrics.RocAuc(anomaly, data.Labels));
            }

            var mean = aucs.Average();
            var ok = Math.Abs(mean - reference) <= 0.02;
            within += ok ? 1 : 0;
            rows.Add([name, data.Count, data.Columns, mean, reference, mean - reference, ok ? "yes" : "NO", fit.Elapsed.TotalMilliseconds / 5, score.Elapsed.TotalMilliseconds / 5]);
            figures[name] = Math.Round(mean, 4);
            report.Progress($"{name}: {mean:0.0000}");
        }

        report.Table(["set", "rows", "cols", "roc_auc", "sklearn", "diff", "within", "fit_ms", "score_ms"], rows);
        return Task.FromResult(new JsonObject { ["sets_within_0.02"] = within, ["sets"] = BenchData.OddsSets.Count, ["roc_auc"] = figures });
    }
}
