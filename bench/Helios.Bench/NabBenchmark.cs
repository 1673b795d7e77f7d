using System.Text.Json.Nodes;
using Helios.Core.Detection;
using Helios.Core.Evaluation;

namespace Helios.Bench;

/// <summary>
/// Isolation Forest on NAB windows with the predecessor's protocol: per-stream z-normalisation,
/// 60-point windows with stride 30, streams split 60/20/20, threshold chosen on validation by F1.
/// </summary>
internal sealed class NabBenchmark : IBenchmark
{
    private const int Size = 60;
    private const int Stride = 30;
    private const int Seeds = 10;

    /// <summary>Feature sets the per-seed selection chooses from (and the ablation shows).</summary>
    private static readonly (string Name, WindowFeatureSet Set)[] Candidates =
    [
        ("raw (predecessor)", WindowFeatureSet.Raw),
        ("shape", WindowFeatureSet.Shape),
        ("shape+context", WindowFeatureSet.Shape | WindowFeatureSet.Context),
        ("shape+context+stream", WindowFeatureSet.Shape | WindowFeatureSet.Context | WindowFeatureSet.Stream),
        ("shape+context+discord", WindowFeatureSet.Shape | WindowFeatureSet.Context | WindowFeatureSet.Discord),
        ("shape+context+stream+discord", WindowFeatureSet.Shape | WindowFeatureSet.Context | WindowFeatureSet.Stream | WindowFeatureSet.Discord),
        ("shape+context+left discord", WindowFeatureSet.Shape | WindowFeatureSet.Context | WindowFeatureSet.LeftDiscord),
    ];

    /// <summary>Feature sets whose window features use only the window and what precedes it (given the protocol's whole-stream z-normalisation).</summary>
    private static bool IsCausal(WindowFeatureSet set) => (set & (WindowFeatureSet.Stream | WindowFeatureSet.Discord)) == 0;

    private static readonly Reach[] Centred = [new(0, 0), new(1, 1), new(2, 2), new(3, 3), new(4, 4), new(6, 6), new(8, 8), new(10, 10), new(12, 12), new(16, 16)];

    private static readonly Reach[] Relative = [new(0, 0), new(0, 0, 0.005), new(0, 0, 0.01), new(0, 0, 0.02), new(0, 0, 0.03), new(0, 0, 0.05), new(0, 0, 0.08)];

    private static readonly Reach[] Trailing = [new(0, 0), new(1, 0), new(2, 0), new(4, 0), new(8, 0), new(12, 0)];

    private static readonly Reach[] AblationReaches = [new(0, 0), new(4, 0), new(3, 3), new(6, 6), new(0, 0, 0.01), new(0, 0, 0.02), new(0, 0, 0.03)];

    public string Name => "nab";

    public string Summary => "Isolation Forest on NAB 60-point windows, streams split 60/20/20, threshold by validation F1";

    public Task<JsonObject> RunAsync(Report report, CancellationToken ct)
    {
        var streams = NabData.Load();
        var prepared = streams.Select(s => new Prepared(s, SlidingWindows.ZNormalise(s.Values), SlidingWindows.Labels(s.PointLabels(), Size, Stride))).ToArray();
        var windows = prepared.Sum(p => p.Labels.Length);
        var positives = prepared.Sum(p => p.Labels.Count(l => l));
        report.Line($"Data: {streams.Count} NAB streams, {streams.Sum(s => s.Length):N0} points, {windows:N0} windows, {positives:N0} anomalous ({100.0 * positives / windows:0.0} %), "
            + $"{streams.Sum(s => s.AnomalyWindows.Count)} labelled anomaly windows.");
        report.Line("Protocol: each stream z-normalised over its whole length (population std; constant stream -> 0); windows of 60 points, stride 30,");
        report.Line("  trailing partial window dropped; a window is anomalous when any of its points lies in a labelled NAB window (combined_windows.json,");
        report.Line("  ends inclusive), i.e. when it overlaps one. Per seed s: the 58 streams (key order) are shuffled with Xoshiro256(s) and split");
        report.Line("  35/12/11 into train/validation/test STREAMS; an Isolation Forest (100 trees, psi 256, seed s) is fit on all training windows,");
        report.Line("  labels unused; the threshold is the best-F1 score on validation windows; test ROC-AUC, PR-AUC (average precision) and");
        report.Line($"  precision/recall/F1 at that threshold. Seeds 0 to {Seeds - 1}; figures are means over seeds.");
        report.Line("Scoring: a window's score is the maximum of the forest's scores (-score_samples) over r windows either side of it in its stream.");
        var labelled = streams.Count(s => s.AnomalyWindows.Count > 0);
        report.Line($"  NAB labels a span of 10 % of a stream's length, shared among its anomalies ({(double)streams.Sum(s => s.AnomalyWindows.Count) / labelled:0.0} per labelled stream), centred on");
        report.Line("  each, so half of a labelled span precedes the anomaly; r as a share of the stream's windows follows that rule. r > 0 looks");
        report.Line("  ahead r windows: offline scoring. The causal rule below uses trailing r and only features of the window and its past.");
        report.Line("Selection, per seed, on its train and validation streams' labels only (never test): the feature set and r with the best ROC-AUC");
        report.Line($"  over train + validation windows, r in {{{string.Join(", ", Relative.Select(r => r.ToString()))}}} of the stream's windows. Feature sets:");
        foreach (var (name, set) in Candidates)
        {
            var names = WindowFeatures.Names(set, Size);
            report.Line($"  {name,-29} {names.Count,2} columns: " + (set == WindowFeatureSet.Raw ? "the 60 z-values"
                : set == WindowFeatureSet.Shape ? "shape" : "shape + " + string.Join(", ", names.Skip(WindowFeatures.ShapeNames.Count))));
        }

        report.Line($"  shape = {string.Join(", ", WindowFeatures.ShapeNames)};");
        report.Line("  ctx_* = the window against the up-to-600 points before it in its stream (0 with fewer than 60); stream_* = against its stream's");
        report.Line("  median window; discord = RMS distance to the nearest non-overlapping 60-point subsequence anywhere in the stream (left: only");
        report.Line("  before the window), against the stream's median such distance. All unlabelled; ratios and z-scores log-compressed.");

        // Scores of every candidate feature set for every seed; the reach is applied afterwards, so each forest is fit once.
        var scored = new Dictionary<(WindowFeatureSet, int), Scored>();
        foreach (var (name, set) in Candidates)
        {
            ct.ThrowIfCancellationRequested();
            for (var seed = 0; seed < Seeds; seed++)
            {
                scored[(set, seed)] = Score(prepared, set, (ulong)seed, chronological: false);
            }

            report.Progress($"{name}: {Seeds} forests fit and scored");
        }

        var primary = Select(scored, Relative, Criterion.TrainValidationRocAuc);
        report.Line("");
        report.Table(
            ["seed", "selected features", "r", "test_windows", "test_pos", "sel_roc_auc", "val_f1", "roc_auc", "pr_auc", "precision", "recall", "f1"],
            primary.Select((r, s) => (IReadOnlyList<object?>)[s, r.Features, r.Neighbourhood, r.TestWindows, r.TestPositives, r.TrainValidationRocAuc, r.ValidationF1,
                    r.Test.RocAuc, r.Test.PrAuc, r.Test.Precision, r.Test.Recall, r.Test.F1])
                .Append(["mean", null, null, null, null, primary.Average(r => r.TrainValidationRocAuc), primary.Average(r => r.ValidationF1),
                    Mean(primary, m => m.RocAuc), Mean(primary, m => m.PrAuc), Mean(primary, m => m.Precision), Mean(primary, m => m.Recall), Mean(primary, m => m.F1)])
                .Append(["std", null, null, null, null, null, null, Std(primary, m => m.RocAuc), Std(primary, m => m.PrAuc), null, null, Std(primary, m => m.F1)]));

        report.Line("");
        report.Line("Per category (its test streams under the selected models; mean over the seeds in which it had test windows of both classes;");
        report.Line("  artificialNoAnomaly has no anomalous window, so only its false positives count, in the pooled figures above):");
        var categories = prepared.Select(p => p.Stream.Category).Distinct().Order(StringComparer.Ordinal).ToArray();
        report.Table(
            ["category", "streams", "seeds", "roc_auc", "precision", "recall", "f1"],
            categories.Select(c =>
            {
                var per = primary.Select(r => r.ByCategory.GetValueOrDefault(c)).Where(m => m is { } f && !double.IsNaN(f.RocAuc)).Select(m => m!.Value).ToArray();
                return (IReadOnlyList<object?>)[c, prepared.Count(p => p.Stream.Category == c), per.Length,
                    per.Length == 0 ? double.NaN : per.Average(m => m.RocAuc),
                    per.Length == 0 ? double.NaN : per.Average(m => m.Precision),
                    per.Length == 0 ? double.NaN : per.Average(m => m.Recall),
                    per.Length == 0 ? double.NaN : per.Average(m => m.F1)];
            }));

        report.Line("");
        report.Line("Selection rules compared (each per seed on non-test labels; the first is the one reported above):");
        var rules = new (string Name, Reach[] Grid, Criterion Criterion, bool CausalOnly)[]
        {
            ("train+val ROC-AUC, r share of stream", Relative, Criterion.TrainValidationRocAuc, false),
            ("validation ROC-AUC, r share of stream", Relative, Criterion.ValidationRocAuc, false),
            ("validation F1, r share of stream", Relative, Criterion.ValidationF1, false),
            ("train+val ROC-AUC, r fixed windows", Centred, Criterion.TrainValidationRocAuc, false),
            ("validation ROC-AUC, r fixed windows", Centred, Criterion.ValidationRocAuc, false),
            ("validation F1, r fixed windows", Centred, Criterion.ValidationF1, false),
            ("train+val ROC-AUC, causal: trailing r, causal features", Trailing, Criterion.TrainValidationRocAuc, true),
        };
        var ruleRows = new List<IReadOnlyList<object?>>();
        var causal = primary;
        foreach (var (name, grid, criterion, causalOnly) in rules)
        {
            var results = Select(scored, grid, criterion, causalOnly);
            causal = causalOnly ? results : causal;
            ruleRows.Add([name, Mean(results, m => m.RocAuc), Mean(results, m => m.PrAuc), Mean(results, m => m.Precision), Mean(results, m => m.Recall), Mean(results, m => m.F1),
                string.Join(" ", results.Select(r => r.Neighbourhood).GroupBy(n => n).OrderByDescending(g => g.Count()).Select(g => $"{g.Key}x{g.Count()}")),
                string.Join(" ", results.Select(r => r.Features).GroupBy(n => n).OrderByDescending(g => g.Count()).Select(g => $"{g.Key}x{g.Count()}"))]);
        }

        report.Table(["rule", "roc_auc", "pr_auc", "precision", "recall", "f1", "chosen r (x seeds)", "chosen features"], ruleRows);

        report.Line("");
        report.Line("Ablation, every seed on one fixed configuration (val_* = validation; '-r' = trailing only, causal):");
        var ablationRows = new List<IReadOnlyList<object?>>();
        var ablation = new JsonObject();
        foreach (var (name, set) in Candidates)
        {
            foreach (var reach in AblationReaches)
            {
                var results = Enumerable.Range(0, Seeds).Select(s => scored[(set, s)].Evaluate(reach)).ToArray();
                ablationRows.Add([name, reach.ToString(), Mean(results, m => m.RocAuc, validation: true), results.Average(r => r.ValidationF1),
                    Mean(results, m => m.RocAuc), Mean(results, m => m.PrAuc), Mean(results, m => m.Precision), Mean(results, m => m.Recall), Mean(results, m => m.F1)]);
                if (reach == default || reach == new Reach(0, 0, 0.02))
                {
                    ablation[$"{name} r={reach}"] = new JsonObject { ["roc_auc"] = Math.Round(Mean(results, m => m.RocAuc), 4), ["f1"] = Math.Round(Mean(results, m => m.F1), 4) };
                }
            }
        }

        report.Table(["features", "r", "val_roc_auc", "val_f1", "roc_auc", "pr_auc", "precision", "recall", "f1"], ablationRows);

        report.Line("");
        report.Line("Did not help: rescaling each stream's scores before the maximum (minus the stream's median score 'med', robust z 'rz'):");
        var scaleRows = new List<IReadOnlyList<object?>>();
        var best = WindowFeatureSet.Shape | WindowFeatureSet.Context | WindowFeatureSet.Discord;
        foreach (var share in new[] { 0.0, 0.02 })
        {
            foreach (var scale in Enum.GetValues<StreamScale>())
            {
                var reach = new Reach(0, 0, share, scale);
                var results = Enumerable.Range(0, Seeds).Select(s => scored[(best, s)].Evaluate(reach)).ToArray();
                scaleRows.Add([Candidates.First(c => c.Set == best).Name, reach.ToString(), Mean(results, m => m.RocAuc, validation: true), results.Average(r => r.ValidationF1),
                    Mean(results, m => m.RocAuc), Mean(results, m => m.PrAuc), Mean(results, m => m.F1)]);
            }
        }

        report.Table(["features", "r", "val_roc_auc", "val_f1", "roc_auc", "pr_auc", "f1"], scaleRows);

        report.Line("");
        var chronoScored = new Dictionary<(WindowFeatureSet, int), Scored>();
        foreach (var (_, set) in Candidates)
        {
            for (var seed = 0; seed < Seeds; seed++)
            {
                chronoScored[(set, seed)] = Score(prepared, set, (ulong)seed, chronological: true);
            }
        }

        var chrono = Select(chronoScored, Relative, Criterion.TrainValidationRocAuc);
        report.Line("Secondary protocol, chronological split WITHIN every stream (first 60 % of its windows train, next 20 % validation, last 20 %");
        report.Line($"  test; one split, so the seeds vary only the forest), same selection: test ROC-AUC {Mean(chrono, m => m.RocAuc):0.000}, PR-AUC {Mean(chrono, m => m.PrAuc):0.000}, "
            + $"precision {Mean(chrono, m => m.Precision):0.000}, recall {Mean(chrono, m => m.Recall):0.000}, F1 {Mean(chrono, m => m.F1):0.000}.");
        report.Line($"Predecessor (raw 60 values, r = 0, stream split): ROC-AUC 0.635, F1 0.326; here that row gives ROC-AUC "
            + $"{Mean([.. Enumerable.Range(0, Seeds).Select(s => scored[(WindowFeatureSet.Raw, s)].Evaluate(default))], m => m.RocAuc):0.000}.");

        return Task.FromResult(new JsonObject
        {
            ["seeds"] = Seeds,
            ["windows"] = windows,
            ["selected"] = new JsonArray([.. primary.Select(r => (JsonNode)$"{r.Features} r={r.Neighbourhood}")]),
            ["roc_auc"] = Math.Round(Mean(primary, m => m.RocAuc), 4),
            ["pr_auc"] = Math.Round(Mean(primary, m => m.PrAuc), 4),
            ["precision"] = Math.Round(Mean(primary, m => m.Precision), 4),
            ["recall"] = Math.Round(Mean(primary, m => m.Recall), 4),
            ["f1"] = Math.Round(Mean(primary, m => m.F1), 4),
            ["roc_auc_std"] = Math.Round(Std(primary, m => m.RocAuc), 4),
            ["f1_std"] = Math.Round(Std(primary, m => m.F1), 4),
            ["predecessor"] = new JsonObject { ["roc_auc"] = 0.635, ["f1"] = 0.326 },
            ["causal"] = new JsonObject { ["roc_auc"] = Math.Round(Mean(causal, m => m.RocAuc), 4), ["f1"] = Math.Round(Mean(causal, m => m.F1), 4) },
            ["chronological_split"] = new JsonObject { ["roc_auc"] = Math.Round(Mean(chrono, m => m.RocAuc), 4), ["f1"] = Math.Round(Mean(chrono, m => m.F1), 4) },
            ["ablation"] = ablation,
        });
    }

    /// <summary>Per seed, the candidate (feature set, reach) best by the criterion on non-test windows; ties go to the earlier candidate.</summary>
    private static SeedResult[] Select(Dictionary<(WindowFeatureSet, int), Scored> scored, Reach[] reaches, Criterion criterion, bool causalOnly = false)
    {
        return [.. Enumerable.Range(0, Seeds).Select(seed =>
        {
            SeedResult? best = null;
            foreach (var (_, set) in Candidates.Where(c => !causalOnly || IsCausal(c.Set)))
            {
                foreach (var reach in reaches)
                {
                    var result = scored[(set, seed)].Evaluate(reach);
                    if (best is null || Of(result) > Of(best))
                    {
                        best = result;
                    }
                }
            }

            return best!;
        })];

        double Of(SeedResult r) => criterion switch
        {
            Criterion.ValidationRocAuc => r.Validation.RocAuc,
            Criterion.ValidationF1 => r.ValidationF1,
            _ => r.TrainValidationRocAuc,
        };
    }

    private static double Mean(SeedResult[] results, Func<Figures, double> pick, bool validation = false) =>
        results.Average(r => pick(validation ? r.Validation : r.Test));

    private static double Std(SeedResult[] results, Func<Figures, double> pick)
    {
        var mean = Mean(results, pick);
        return Math.Sqrt(results.Average(r => Math.Pow(pick(r.Test) - mean, 2)));
    }

    private static Scored Score(Prepared[] prepared, WindowFeatureSet set, ulong seed, bool chronological)
    {
        var columns = WindowFeatures.Names(set, Size).Count;
        var parts = new[] { new Part(), new Part(), new Part() };
        if (chronological)
        {
            foreach (var p in prepared)
            {
                var features = p.Features(set);
                var n = p.Labels.Length;
                int trainEnd = (int)Math.Round(0.6 * n), valEnd = (int)Math.Round(0.8 * n);
                for (var k = 0; k < n; k++)
                {
                    parts[k < trainEnd ? 0 : k < valEnd ? 1 : 2].Add(p, features, k, columns);
                }
            }
        }
        else
        {
            var order = Enumerable.Range(0, prepared.Length).ToArray();
            var rng = new Xoshiro256(seed);
            for (var i = order.Length - 1; i > 0; i--)
            {
                var j = rng.NextInt(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }

            int train = (int)Math.Round(0.6 * order.Length), validation = (int)Math.Round(0.2 * order.Length);
            for (var i = 0; i < order.Length; i++)
            {
                var p = prepared[order[i]];
                var features = p.Features(set);
                var part = parts[i < train ? 0 : i < train + validation ? 1 : 2];
                for (var k = 0; k < p.Labels.Length; k++)
                {
                    part.Add(p, features, k, columns);
                }
            }
        }

        var forest = IsolationForest.Fit([.. parts[0].Rows], columns, new IsolationForestOptions { Seed = seed });
        foreach (var part in parts)
        {
            part.Score(forest);
        }

        return new Scored(Candidates.First(c => c.Set == set).Name, parts[0], parts[1], parts[2]);
    }

    private sealed record Scored(string Features, Part Train, Part Validation, Part Test)
    {
        public SeedResult Evaluate(Reach reach)
        {
            var validationScores = Validation.Smoothed(reach);
            var testScores = Test.Smoothed(reach);
            var trainScores = Train.Smoothed(reach);
            var trainValidationRoc = Metrics.RocAuc([.. trainScores, .. validationScores], [.. Train.Labels, .. Validation.Labels]);
            bool[] validationLabels = [.. Validation.Labels], testLabels = [.. Test.Labels];
            var (threshold, validationF1) = Metrics.BestF1Threshold(validationScores, validationLabels);
            var byCategory = Test.Categories.Distinct().ToDictionary(
                c => c,
                c =>
                {
                    var idx = Enumerable.Range(0, testScores.Length).Where(i => Test.Categories[i] == c).ToArray();
                    return (Figures?)Figures.Of([.. idx.Select(i => testScores[i])], [.. idx.Select(i => testLabels[i])], threshold);
                },
                StringComparer.Ordinal);
            return new SeedResult(Features, reach.ToString(), trainValidationRoc, Train.Labels.Count, validationLabels.Length, testLabels.Length, testLabels.Count(l => l), validationF1,
                Figures.Of(validationScores, validationLabels, threshold), Figures.Of(testScores, testLabels, threshold), byCategory);
        }
    }

    private sealed record Prepared(NabStream Stream, double[] Z, bool[] Labels)
    {
        private readonly Dictionary<WindowFeatureSet, double[]> _features = [];

        public double[] Features(WindowFeatureSet set)
        {
            if (!_features.TryGetValue(set, out var rows))
            {
                rows = WindowFeatures.Extract(Z, Size, Stride, set);
                _features[set] = rows;
            }

            return rows;
        }
    }

    private sealed class Part
    {
        public List<double> Rows { get; } = [];

        public List<bool> Labels { get; } = [];

        public List<string> Categories { get; } = [];

        /// <summary>Where each stream's run of consecutive windows starts (a new run when the stream changes).</summary>
        private readonly List<int> _runStarts = [];

        /// <summary>Each run's stream's total number of windows (for a reach given as a share of the stream).</summary>
        private readonly List<int> _runStreamWindows = [];

        private Prepared? _last;

        private double[] _scores = [];

        public void Add(Prepared p, double[] features, int window, int columns)
        {
            if (!ReferenceEquals(p, _last))
            {
                _runStarts.Add(Labels.Count);
                _runStreamWindows.Add(p.Labels.Length);
                _last = p;
            }

            Rows.AddRange(features.AsSpan(window * columns, columns));
            Labels.Add(p.Labels[window]);
            Categories.Add(p.Stream.Category);
        }

        /// <summary>Anomaly scores, higher = more anomalous (minus score_samples).</summary>
        public void Score(IsolationForest forest)
        {
            var scores = new double[Labels.Count];
            forest.ScoreSamples([.. Rows], scores);
            for (var i = 0; i < scores.Length; i++)
            {
                scores[i] = -scores[i];
            }

            _scores = scores;
        }

        /// <summary>Scores with the neighbourhood maximum applied within each stream.</summary>
        public double[] Smoothed(Reach reach)
        {
            var scores = _scores;
            if (reach.For(1) == (0, 0) && reach.Scale == StreamScale.None)
            {
                return scores;
            }

            var smoothed = new double[scores.Length];
            for (var r = 0; r < _runStarts.Count; r++)
            {
                var start = _runStarts[r];
                var end = r + 1 < _runStarts.Count ? _runStarts[r + 1] : scores.Length;
                var (before, after) = reach.For(_runStreamWindows[r]);
                var run = scores.AsSpan(start, end - start).ToArray();
                if (reach.Scale != StreamScale.None)
                {
                    var median = Helios.Core.Features.Percentiles.Linear([.. run], 50);
                    var mad = Helios.Core.Features.Percentiles.Linear(run.Select(x => Math.Abs(x - median)).ToArray(), 50);
                    for (var i = 0; i < run.Length; i++)
                    {
                        run[i] = reach.Scale == StreamScale.RobustZ ? (run[i] - median) / (mad + 1e-3) : run[i] - median;
                    }
                }

                WindowScores.NeighbourhoodMax(run, before, after).CopyTo(smoothed, start);
            }

            return smoothed;
        }
    }

    private readonly record struct Figures(double RocAuc, double PrAuc, double Precision, double Recall, double F1)
    {
        public static Figures Of(double[] scores, bool[] labels, double threshold)
        {
            var predicted = scores.Select(s => s >= threshold).ToArray();
            var confusion = Confusion.Of(predicted, labels);
            return new Figures(Metrics.RocAuc(scores, labels), Metrics.AveragePrecision(scores, labels), confusion.Precision, confusion.Recall, confusion.F1);
        }
    }

    /// <summary>How far a window's score reaches: fixed windows before/after, or a share of its stream's windows either side.</summary>
    private readonly record struct Reach(int Before, int After, double Share = 0, StreamScale Scale = StreamScale.None)
    {
        public (int Before, int After) For(int streamWindows)
        {
            if (Share <= 0)
            {
                return (Before, After);
            }

            var h = Math.Max(1, (int)Math.Round(Share * streamWindows));
            return (h, h);
        }

        public override string ToString() => (Share > 0 ? $"{100 * Share:0.#}%" : After == 0 && Before > 0 ? $"-{Before}" : $"{Before}")
            + Scale switch { StreamScale.MinusMedian => " med", StreamScale.RobustZ => " rz", _ => "" };
    }

    private enum StreamScale
    {
        None,
        MinusMedian,
        RobustZ,
    }

    private enum Criterion
    {
        ValidationRocAuc,
        ValidationF1,
        TrainValidationRocAuc,
    }

    private sealed record SeedResult(string Features, string Neighbourhood, double TrainValidationRocAuc, int TrainWindows, int ValidationWindows, int TestWindows, int TestPositives, double ValidationF1, Figures Validation, Figures Test,
        Dictionary<string, Figures?> ByCategory);
}
