using System.Text.Json.Nodes;
using Helios.Core.Detection;
using Helios.Core.Evaluation;
using Helios.Core.Features;
using Helios.Core.Synthetic;
using Helios.Core.Windows;

namespace Helios.Bench;

/// <summary>
/// Window-level detection on the SPEC section 6 chaos scenarios: train on clean traffic, choose
/// the threshold on a separate labelled validation period, measure on a test period.
/// </summary>
internal sealed class ChaosBenchmark : IBenchmark
{
    private const ulong Seed = 2026;
    private const int MinEvents = 10;
    private const double LabelFraction = 0.5;
    private static readonly DateTimeOffset TrainStart = new(2026, 3, 2, 0, 0, 0, TimeSpan.Zero);
    private const int TrainDays = 7;
    private const int ValidationDays = 4;
    private const int ValidationPerType = 12;
    private const int TestDays = 10;
    private const int TestPerType = 40;

    /// <summary>The operating point, fixed before looking at test figures: the lowest threshold whose validation precision is at least this.</summary>
    private const double OperatingPrecision = 0.97;

    public string Name => "chaos";

    public string Summary => "window-level precision, recall, F1, PR-AUC and delay on the SPEC chaos scenarios";

    public Task<JsonObject> RunAsync(Report report, CancellationToken ct)
    {
        var headline = RunAt(SyntheticTraffic.DefaultBaseRps, report, ct);
        var sensitivity = new List<object?[]>();
        var rates = new JsonObject();
        foreach (var rps in new[] { SyntheticTraffic.DefaultBaseRps, 5, 10 })
        {
            var figures = rps == SyntheticTraffic.DefaultBaseRps ? headline : RunAt(rps, new Report(TextWriter.Null), ct);
            sensitivity.Add([rps.ToString(System.Globalization.CultureInfo.InvariantCulture), figures["precision"]!.GetValue<double>(), figures["recall"]!.GetValue<double>(), figures["f1"]!.GetValue<double>(), figures["pr_auc"]!.GetValue<double>()]);
            rates[rps.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["precision"] = figures["precision"]!.DeepClone(),
                ["recall"] = figures["recall"]!.DeepClone(),
                ["f1"] = figures["f1"]!.DeepClone(),
            };
            report.Progress($"{rps} events/s done");
        }

        report.Line("");
        report.Line("Traffic volume (the same protocol and headline detector at other overall event rates; quieter services give fewer events to judge by):");
        report.Table(["events_per_s", "precision", "recall", "f1", "pr_auc"], sensitivity);
        headline["by_rate"] = rates;
        return Task.FromResult(headline);
    }

    private static JsonObject RunAt(double rps, Report report, CancellationToken ct)
    {
        var window = TimeSpan.FromMinutes(5);
        var validationStart = TrainStart.AddDays(TrainDays);
        var testStart = validationStart.AddDays(ValidationDays);
        var testEnd = testStart.AddDays(TestDays);
        report.Line($"Protocol: {SyntheticTraffic.Services.Count} SPEC services at {rps} events/s (before seasonality), seed {Seed}, windows {window.TotalMinutes:0} min, windows below {MinEvents} events not scored (as the detector).");
        report.Line($"  train      {TrainStart:yyyy-MM-dd} + {TrainDays} d, clean traffic only: per-service baselines and the forest (100 trees, psi 256).");
        report.Line($"  validation {validationStart:yyyy-MM-dd} + {ValidationDays} d, {ValidationPerType} scenarios per type, own seeds: the threshold is the best-F1 score threshold here.");
        report.Line($"  test       {testStart:yyyy-MM-dd} + {TestDays} d, {TestPerType} scenarios per type, own seeds: every figure below.");
        report.Line($"Labels: a service's window is anomalous when a scenario affecting that service covers >= {LabelFraction:P0} of it (most of the window is incident),");
        report.Line("  normal when none touches it; windows touched for less are excluded (neither rewarded nor penalised).");
        report.Line("Per type: the test period is cut into one slot per scenario; a type's figures use the windows in its scenarios' slots, so false alarms are charged to one type each.");
        report.Line("Delay: scenario start to the end of the first flagged window of an affected service that overlaps the scenario.");

        var started = System.Diagnostics.Stopwatch.StartNew();
        var train = SyntheticTraffic.Windows(SyntheticTraffic.Generate(TrainStart, validationStart, rps, Seed), window, validationStart);
        var validationPlan = ChaosScenarios.Plan(validationStart, testStart, ValidationPerType, Seed + 1);
        var validation = SyntheticTraffic.Windows(ChaosScenarios.Generate(validationStart, testStart, rps, Seed + 1, validationPlan), window, testStart);
        var testPlan = ChaosScenarios.Plan(testStart, testEnd, TestPerType, Seed + 2);
        var test = SyntheticTraffic.Windows(ChaosScenarios.Generate(testStart, testEnd, rps, Seed + 2, testPlan), window, testEnd);
        report.Progress($"generated and windowed {train.Count + validation.Count + test.Count:N0} windows in {started.Elapsed.TotalSeconds:0.0} s");
        ct.ThrowIfCancellationRequested();

        started.Restart();
        var model = BootstrapModel.TrainEventModel(train, MinEvents, new IsolationForestOptions { Seed = Seed }, out var trainRows);
        var baselines = model.ServiceBaselines!;
        var validationSet = Labelled(validation, validationPlan, baselines, LabelFraction);
        var testSet = Labelled(test, testPlan, baselines, LabelFraction);
        report.Progress($"trained on {trainRows:N0} windows; {validationSet.Count:N0} validation and {testSet.Count:N0} test windows scored in {started.Elapsed.TotalSeconds:0.0} s");

        // Ablation: the same forest on column subsets, each with its own validation threshold;
        // then the surprise guard alone and with the forest.
        var trainRowsV2 = train.Where(w => w.Events.Count >= MinEvents).Select(w => EventWindowFeatures.For(w, baselines)).ToList();
        var ablation = new List<object?[]>();
        var ablationJson = new JsonObject();
        var forestScores = new Dictionary<string, Scores>();
        foreach (var (name, columns) in FeatureSets())
        {
            ct.ThrowIfCancellationRequested();
            var trainMatrix = Project(trainRowsV2, columns);
            var forest = IsolationForest.Fit(trainMatrix, columns.Length, new IsolationForestOptions { Seed = Seed });
            forestScores[name] = new Scores(
                Negate(Score(forest, trainMatrix, columns.Length)),
                Negate(Score(forest, Project(validationSet.Select(x => x.Features), columns), columns.Length)),
                Negate(Score(forest, Project(testSet.Select(x => x.Features), columns), columns.Length)),
                -forest.Offset);
        }

        var guard = new Scores(
            [.. trainRowsV2.Select(r => SurpriseGuard.Score(r))],
            [.. validationSet.Select(x => SurpriseGuard.Score(x.Features))],
            [.. testSet.Select(x => SurpriseGuard.Score(x.Features))],
            double.NaN);
        var trainAll = train.Select(w => (Window: w, Features: EventWindowFeatures.For(w, baselines))).ToList();
        var persistent = new Scores(
            [.. Persist(trainAll, window).Where((_, i) => trainAll[i].Window.Events.Count >= MinEvents)],
            Persist([.. validationSet.Select(x => (x.Window, x.Features))], window),
            Persist([.. testSet.Select(x => (x.Window, x.Features))], window),
            double.NaN);
        var corroborated = new Scores(
            [.. Corroborate(trainAll, window).Where((_, i) => trainAll[i].Window.Events.Count >= MinEvents)],
            Corroborate([.. validationSet.Select(x => (x.Window, x.Features))], window),
            Corroborate([.. testSet.Select(x => (x.Window, x.Features))], window),
            double.NaN);
        var variants = forestScores.Select(kv => (kv.Key, kv.Value)).ToList();
        variants.Add(("surprise guard", guard));
        variants.Add(("events.v2 and guard", Combine(forestScores["events.v2"], guard, validationSet)));
        variants.Add(("persistent guard", persistent));
        variants.Add(("events.v2 and persistent guard", Combine(forestScores["events.v2"], persistent, validationSet)));
        variants.Add(("corroborated guard", corroborated));
        variants.Add(("events.v2 and corroborated guard", Combine(forestScores["events.v2"], corroborated, validationSet)));

        // Every variant at the best-F1 threshold and at the operating point; the headline is the variant
        // with the highest VALIDATION recall at the operating point (test figures play no part in the choice).
        Evaluation? chosen = null;
        var chosenName = "";
        var chosenValidationRecall = -1.0;
        foreach (var (name, scores) in variants)
        {
            var eval = Evaluate(scores, validationSet, testSet, testPlan, testStart, testEnd);
            var op = Evaluate(scores, validationSet, testSet, testPlan, testStart, testEnd, OperatingPrecision);
            ablation.Add([name, eval.Overall.Precision, eval.Overall.Recall, eval.Overall.F1, eval.PrAuc, op.Validation.Recall, op.Overall.Precision, op.Overall.Recall]);
            ablationJson[name] = new JsonObject
            {
                ["precision"] = R(eval.Overall.Precision), ["recall"] = R(eval.Overall.Recall), ["f1"] = R(eval.Overall.F1), ["pr_auc"] = R(eval.PrAuc),
                ["op_validation_recall"] = R(op.Validation.Recall), ["op_precision"] = R(op.Overall.Precision), ["op_recall"] = R(op.Overall.Recall),
            };
            if (name.Contains("guard", StringComparison.Ordinal) && op.Validation.Recall > chosenValidationRecall)
            {
                (chosen, chosenName, chosenValidationRecall) = (op, name, op.Validation.Recall);
            }
        }

        report.Line("");
        report.Line($"Ablation (test period; left: threshold = best F1 on validation; right: the operating point, the lowest threshold with validation precision >= {OperatingPrecision}):");
        report.Table(["detector", "precision", "recall", "f1", "pr_auc", "op: val recall", "op: precision", "op: recall"], ablation);

        var e = chosen!;
        var rows = new List<object?[]>();
        var types = new JsonObject();
        foreach (var type in ChaosScenarios.Types)
        {
            var t = e.ByType[type];
            rows.Add([ChaosScenarios.Name(type), t.Scenarios, t.Positives, t.Confusion.Precision, t.Confusion.Recall, t.Confusion.F1, t.PrAuc, t.Detected, t.MeanDelay, t.MedianDelay]);
            types[ChaosScenarios.Name(type)] = new JsonObject
            {
                ["precision"] = R(t.Confusion.Precision),
                ["recall"] = R(t.Confusion.Recall),
                ["f1"] = R(t.Confusion.F1),
                ["pr_auc"] = R(t.PrAuc),
                ["scenarios_detected"] = R(t.Detected),
                ["mean_delay_min"] = R(t.MeanDelay),
                ["median_delay_min"] = R(t.MedianDelay),
            };
        }

        rows.Add(["all", testPlan.Count, e.Overall.TruePositives + e.Overall.FalseNegatives, e.Overall.Precision, e.Overall.Recall, e.Overall.F1, e.PrAuc, e.Detected, e.MeanDelay, e.MedianDelay]);
        report.Line("");
        report.Line($"Headline: {chosenName} at the operating point (best validation recall there): threshold {e.Threshold:0.0000}");
        report.Line($"  (clean training windows above it: {e.TrainShare:P2}):");
        report.Table(["scenario", "n", "positives", "precision", "recall", "f1", "pr_auc", "detected", "delay_mean", "delay_median"], rows);
        report.Line($"Confusion: TP {e.Overall.TruePositives}, FP {e.Overall.FalsePositives}, FN {e.Overall.FalseNegatives}, TN {e.Overall.TrueNegatives}; " +
            $"excluded partial windows {e.Excluded}; anomalous windows not scored (< {MinEvents} events) {e.Unscored}. Delays in minutes.");

        // The labelling rule decides how many barely-touched windows count as positives: the same
        // detector, its thresholds re-chosen on validation under each rule.
        var sensitivity = new List<object?[]>();
        var sensitivityJson = new JsonObject();
        foreach (var fraction in new[] { 0.2, 0.5, 1.0 })
        {
            var v = validationSet.Select(x => x with { Label = ChaosScenarios.Label(validationPlan, x.Window.Service, x.Window.Start, x.Window.End, fraction).Label }).ToList();
            var t = testSet.Select(x => x with { Label = ChaosScenarios.Label(testPlan, x.Window.Service, x.Window.Start, x.Window.End, fraction).Label }).ToList();
            var headline = variants.First(x => x.Key == chosenName).Value;
            var r = Evaluate(chosenName.StartsWith("events.v2 and", StringComparison.Ordinal)
                ? Combine(forestScores["events.v2"], chosenName.Contains("corroborated", StringComparison.Ordinal) ? corroborated : chosenName.Contains("persistent", StringComparison.Ordinal) ? persistent : guard, v)
                : headline, v, t, testPlan, testStart, testEnd, OperatingPrecision);
            sensitivity.Add([$">= {fraction:P0} of the window", r.Overall.TruePositives + r.Overall.FalseNegatives, r.Excluded, r.Overall.Precision, r.Overall.Recall, r.Overall.F1, r.PrAuc]);
            sensitivityJson[fraction.ToString("0.0#", System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject { ["precision"] = R(r.Overall.Precision), ["recall"] = R(r.Overall.Recall), ["f1"] = R(r.Overall.F1), ["pr_auc"] = R(r.PrAuc) };
        }

        report.Line("");
        report.Line("Labelling rule (the headline detector; windows touched for less than the rule are excluded):");
        report.Table(["anomalous when covered", "positives", "excluded", "precision", "recall", "f1", "pr_auc"], sensitivity);

        return new JsonObject
        {
            ["window_minutes"] = window.TotalMinutes,
            ["base_rps"] = rps,
            ["train_days"] = TrainDays,
            ["test_scenarios"] = testPlan.Count,
            ["precision"] = R(e.Overall.Precision),
            ["recall"] = R(e.Overall.Recall),
            ["f1"] = R(e.Overall.F1),
            ["pr_auc"] = R(e.PrAuc),
            ["threshold"] = R(e.Threshold),
            ["scenarios_detected"] = R(e.Detected),
            ["mean_delay_min"] = R(e.MeanDelay),
            ["test_windows"] = e.Overall.TruePositives + e.Overall.FalsePositives + e.Overall.FalseNegatives + e.Overall.TrueNegatives,
            ["per_type"] = types,
            ["ablation"] = ablationJson,
            ["label_rule"] = sensitivityJson,
        };
    }

    private static IEnumerable<(string Name, int[] Columns)> FeatureSets()
    {
        var seed = Enumerable.Range(0, EventWindowFeatures.SeedSchema.Count).ToArray();
        var relative = Enumerable.Range(EventWindowFeatures.SeedSchema.Count, EventWindowFeatures.Schema.Count - EventWindowFeatures.SeedSchema.Count).ToArray();
        yield return ("seed7 (events.v1)", seed);
        yield return ($"relative{relative.Length} only", relative);
        yield return ("events.v2", [.. seed, .. relative]);
    }

    private sealed record Sample(ClosedWindow Window, double[] Features, WindowLabel Label, ChaosScenario? Scenario);

    /// <summary>The scored windows (enough events) with their labels; partial windows are kept for delay but not for metrics.</summary>
    private static List<Sample> Labelled(List<ClosedWindow> windows, IReadOnlyList<ChaosScenario> plan, ServiceBaselines baselines, double fraction)
    {
        var result = new List<Sample>(windows.Count);
        foreach (var w in windows)
        {
            var (label, scenario) = ChaosScenarios.Label(plan, w.Service, w.Start, w.End, fraction);
            result.Add(new Sample(w, EventWindowFeatures.For(w, baselines), label, scenario));
        }

        return result;
    }

    /// <summary>The persistent surprise of each window: its own, or twice the smaller of its own and its predecessor's (see <see cref="SurpriseGuard.Persistent"/>).</summary>
    private static double[] Persist(List<(ClosedWindow Window, double[] Features)> windows, TimeSpan size)
    {
        var byStart = windows.ToDictionary(x => (x.Window.Service, x.Window.Start), x => SurpriseGuard.Score(x.Features));
        return [.. windows.Select(x => SurpriseGuard.Persistent(byStart[(x.Window.Service, x.Window.Start)], byStart.GetValueOrDefault((x.Window.Service, x.Window.Start - size))))];
    }

    /// <summary>
    /// The corroborated surprise of each window, computed as the streaming detector does (<see cref="EvidenceTracker"/>),
    /// one slot per batch in time order, as when every service's window of a slot closes in the same drain.
    /// </summary>
    private static double[] Corroborate(List<(ClosedWindow Window, double[] Features)> windows, TimeSpan size)
    {
        var tracker = new EvidenceTracker(size);
        var result = new double[windows.Count];
        foreach (var slot in Enumerable.Range(0, windows.Count).GroupBy(i => windows[i].Window.Start).OrderBy(g => g.Key))
        {
            var members = slot.ToList();
            var evidence = new Evidence[members.Count];
            tracker.Evaluate(members.ConvertAll(i => new WindowSurprise(windows[i].Window.Service, windows[i].Window.Start.UtcTicks, SurpriseGuard.Score(windows[i].Features))), evidence);
            for (var m = 0; m < members.Count; m++)
            {
                result[members[m]] = evidence[m].Value;
            }
        }

        return result;
    }

    private static double[] Project(IEnumerable<double[]> rows, int[] columns) =>
        [.. rows.SelectMany(r => columns.Select(c => r[c]))];

    private static double[] Score(IsolationForest forest, double[] matrix, int columns)
    {
        var scores = new double[matrix.Length / columns];
        forest.ScoreSamples(matrix, scores);
        return scores;
    }

    private static double[] Negate(double[] values) => [.. values.Select(v => -v)];

    /// <summary>Anomaly scores (higher = more anomalous) of the training, validation and test windows; Contamination = the forest's own threshold.</summary>
    private sealed record Scores(double[] Train, double[] Validation, double[] Test, double Contamination);

    /// <summary>
    /// One score from two: each divided by its own best-F1 threshold on validation, then the larger,
    /// so either detector alone reaching its threshold reaches 1.
    /// </summary>
    private static Scores Combine(Scores a, Scores b, List<Sample> validation)
    {
        var ta = BestThreshold(a.Validation, validation);
        var tb = BestThreshold(b.Validation, validation);
        double[] Mix(double[] x, double[] y) => [.. x.Select((v, i) => Math.Max(v / ta, y[i] / tb))];
        return new Scores(Mix(a.Train, b.Train), Mix(a.Validation, b.Validation), Mix(a.Test, b.Test), a.Contamination / ta);
    }

    private static double BestThreshold(double[] scores, List<Sample> samples)
    {
        var (s, l) = Scored(samples, scores, _ => true);
        return Metrics.BestF1Threshold(s, l).Threshold;
    }

    private static double PrecisionThreshold(double[] scores, List<Sample> samples, double minPrecision)
    {
        var (s, l) = Scored(samples, scores, _ => true);
        return Metrics.ThresholdForPrecision(s, l, minPrecision);
    }

    private sealed record TypeFigures(int Scenarios, int Positives, Confusion Confusion, double PrAuc, double Detected, double MeanDelay, double MedianDelay);

    private sealed record Evaluation(double Threshold, double TrainShare, Confusion Overall, Confusion Validation, double PrAuc, Confusion ContaminationConfusion,
        double Detected, double MeanDelay, double MedianDelay, int Excluded, int Unscored, Dictionary<ScenarioType, TypeFigures> ByType);

    private static Evaluation Evaluate(Scores scores, List<Sample> validation, List<Sample> test,
        IReadOnlyList<ChaosScenario> plan, DateTimeOffset testStart, DateTimeOffset testEnd, double? minPrecision = null)
    {
        var best = minPrecision is { } target ? PrecisionThreshold(scores.Validation, validation, target) : BestThreshold(scores.Validation, validation);
        var threshold = best;
        var testScores = scores.Test;
        var flagged = testScores.Select(s => s >= best).ToArray();
        var (tScores, tLabels) = Scored(test, testScores, _ => true);
        var overall = Confusion.Of(tScores.Select(s => s >= best).ToArray(), tLabels);
        var byContamination = Confusion.Of(tScores.Select(s => s > scores.Contamination).ToArray(), tLabels);

        var slot = (testEnd - testStart) / plan.Count;
        var slotTypes = test.Select(s => plan[Math.Min((int)((s.Window.Start - testStart) / slot), plan.Count - 1)].Type).ToArray();

        var delays = Delays(test, flagged, plan);
        var byType = new Dictionary<ScenarioType, TypeFigures>();
        foreach (var type in ChaosScenarios.Types)
        {
            var (typeScores, labels) = Scored(test, testScores, i => slotTypes[i] == type);
            var typeDelays = plan.Where(p => p.Type == type).Select(p => delays[p.Id]).ToList();
            var found = typeDelays.Where(d => d is not null).Select(d => d!.Value).Order().ToList();
            byType[type] = new TypeFigures(typeDelays.Count, labels.Count(l => l), Confusion.Of(typeScores.Select(x => x >= best).ToArray(), labels),
                Metrics.AveragePrecision(typeScores, labels), (double)found.Count / typeDelays.Count,
                found.Count == 0 ? double.NaN : found.Average(), found.Count == 0 ? double.NaN : found[found.Count / 2]);
        }

        var all = delays.Values.Where(d => d is not null).Select(d => d!.Value).Order().ToList();
        var trainShare = scores.Train.Count(x => x >= best) / (double)scores.Train.Length;
        var (vScores, vLabels) = Scored(validation, scores.Validation, _ => true);
        var onValidation = Confusion.Of(vScores.Select(x => x >= best).ToArray(), vLabels);
        return new Evaluation(threshold, trainShare, overall, onValidation, Metrics.AveragePrecision(tScores, tLabels), byContamination,
            (double)all.Count / plan.Count, all.Count == 0 ? double.NaN : all.Average(), all.Count == 0 ? double.NaN : all[all.Count / 2],
            test.Count(s => s.Label == WindowLabel.Partial && s.Window.Events.Count >= MinEvents),
            test.Count(s => s.Label == WindowLabel.Anomalous && s.Window.Events.Count < MinEvents), byType);
    }

    /// <summary>Anomaly scores and labels of the scored, non-partial windows passing the filter.</summary>
    private static (double[] Scores, bool[] Labels) Scored(List<Sample> samples, double[] anomalyScores, Func<int, bool> filter)
    {
        var scores = new List<double>();
        var labels = new List<bool>();
        for (var i = 0; i < samples.Count; i++)
        {
            var s = samples[i];
            if (s.Window.Events.Count >= MinEvents && s.Label != WindowLabel.Partial && filter(i))
            {
                scores.Add(anomalyScores[i]);
                labels.Add(s.Label == WindowLabel.Anomalous);
            }
        }

        return ([.. scores], [.. labels]);
    }

    /// <summary>Minutes from each scenario's start to the end of its first flagged overlapping window of an affected service; null = missed.</summary>
    private static Dictionary<int, double?> Delays(List<Sample> test, bool[] flagged, IReadOnlyList<ChaosScenario> plan)
    {
        var delays = plan.ToDictionary(p => p.Id, _ => (double?)null);
        for (var i = 0; i < test.Count; i++)
        {
            var w = test[i].Window;
            if (!flagged[i] || w.Events.Count < MinEvents)
            {
                continue;
            }

            foreach (var p in plan)
            {
                if (p.Start < w.End && p.End > w.Start && p.Affects(w.Service))
                {
                    var d = (w.End - p.Start).TotalMinutes;
                    if (delays[p.Id] is not { } known || d < known)
                    {
                        delays[p.Id] = d;
                    }
                }
            }
        }

        return delays;
    }

    private static JsonNode? R(double v) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 4)) : null;
}
