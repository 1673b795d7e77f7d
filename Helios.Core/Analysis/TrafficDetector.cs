using System.Collections.Concurrent;
using System.Globalization;
using Helios.Core.Alerts;
using Helios.Core.Detection;
using Helios.Core.Features;

namespace Helios.Core.Analysis;

/// <summary>
/// One gateway interval, judged. NormalizedScore is in [0, 1] with 0.5 at the threshold; Severity
/// and AnomalyType are null for normal intervals. Streak counts consecutive anomalous intervals
/// of the same key up to this one; Confirmed from the <see cref="TrafficDetector.ConfirmationStreak"/>th.
/// </summary>
public sealed record TrafficResult(
    bool IsAnomaly,
    string? AnomalyType,
    string? Severity,
    double Score,
    double Threshold,
    double NormalizedScore,
    double Confidence,
    bool Confirmed,
    int Streak,
    IReadOnlyList<FeatureContribution> Contributions,
    string Explanation,
    IReadOnlyDictionary<string, double> Features,
    DateTimeOffset? Timestamp);

public sealed record TrafficBatchResult(IReadOnlyList<TrafficResult> Results, int Total, int Anomalies, double AnomalyRate);

/// <summary>Trend of the recent results of one key (SPEC: requests, latency, errors, window size, streak, anomaly rate).</summary>
public sealed record TrafficTrend(TrendFit Requests, TrendFit Latency, TrendFit Errors, int WindowSize, int AnomalyStreak, double RecentAnomalyRate);

/// <summary>
/// The traffic model plus the recent history of each key (gateway, endpoint, ...): scores
/// intervals, types them (<see cref="TrafficAnomalyTypes"/>), tracks persistence and reports
/// trends. Safe to share between requests; intervals of one key are applied in call order.
/// </summary>
public sealed class TrafficDetector
{
    public const string DefaultKey = "default";

    /// <summary>Consecutive anomalous intervals after which a result is confirmed.</summary>
    public const int ConfirmationStreak = 3;

    public const int DefaultHistory = 500;

    public const int DefaultTrendWindow = 60;

    private readonly ConcurrentDictionary<string, History> _history = new(StringComparer.Ordinal);
    private readonly int _historyCapacity;
    private volatile AnomalyModel _model;

    public TrafficDetector(AnomalyModel model, int historyCapacity = DefaultHistory)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(historyCapacity, ConfirmationStreak);
        CheckSchema(model);
        _model = model;
        _historyCapacity = historyCapacity;
    }

    public AnomalyModel Model => _model;

    /// <summary>Swaps in another traffic model (activation, rollback); history and streaks are kept, they describe the traffic.</summary>
    public void UseModel(AnomalyModel model)
    {
        CheckSchema(model);
        _model = model;
    }

    public TrafficResult Detect(TrafficMetrics metrics, string key = DefaultKey)
    {
        if (TrafficFeatures.Validate(metrics) is { } error)
        {
            throw new ArgumentException($"{error.Field} {error.Reason}.", nameof(metrics));
        }

        var model = _model;
        Span<double> features = stackalloc double[TrafficFeatures.Schema.Count];
        Span<double> z = stackalloc double[TrafficFeatures.Schema.Count];
        TrafficFeatures.Extract(metrics, features);
        model.RobustZ(features, z);
        var judged = Judge(model, features, z);

        var history = _history.GetOrAdd(key, _ => new History(_historyCapacity));
        int streak;
        lock (history)
        {
            streak = history.Add(metrics, judged.IsAnomaly);
        }

        var confirmed = streak >= ConfirmationStreak;
        // Persistence is evidence of its own: a confirmed result halves the remaining doubt.
        var confidence = confirmed ? 1 - ((1 - judged.Confidence) / 2) : judged.Confidence;
        var names = TrafficFeatures.Schema.Features;
        var values = new Dictionary<string, double>(names.Count, StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
        {
            values[names[i]] = features[i];
        }

        Severity? severity = judged.IsAnomaly ? SeverityPolicy.Classify(judged.Normalized, metrics.ErrorRate) : null;
        return new TrafficResult(judged.IsAnomaly, TrafficAnomalyTypes.Name(judged.Type), severity is { } s ? SeverityPolicy.Name(s) : null,
            judged.Score, judged.Threshold, judged.Normalized, confidence, confirmed, streak, judged.Contributions,
            Explain(judged, severity, streak, confirmed), values, metrics.Timestamp);
    }

    /// <summary>Scores the intervals in order, as if they arrived one by one (streaks carry through the batch).</summary>
    public TrafficBatchResult DetectBatch(IReadOnlyList<TrafficMetrics> metrics, string key = DefaultKey)
    {
        var results = new TrafficResult[metrics.Count];
        var anomalies = 0;
        for (var i = 0; i < metrics.Count; i++)
        {
            results[i] = Detect(metrics[i], key);
            anomalies += results[i].IsAnomaly ? 1 : 0;
        }

        return new TrafficBatchResult(results, results.Length, anomalies, results.Length == 0 ? 0 : (double)anomalies / results.Length);
    }

    /// <summary>Trend over the last <paramref name="window"/> results of the key (fewer when fewer were seen).</summary>
    public TrafficTrend Trend(string key = DefaultKey, int window = DefaultTrendWindow)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        if (!_history.TryGetValue(key, out var history))
        {
            var empty = TrendAnalysis.Fit([]);
            return new TrafficTrend(empty, empty, empty, 0, 0, 0);
        }

        double[] requests, latency, errors;
        int anomalies, streak;
        lock (history)
        {
            (requests, latency, errors, anomalies) = history.Last(window);
            streak = history.Streak;
        }

        return new TrafficTrend(TrendAnalysis.Fit(requests), TrendAnalysis.Fit(latency), TrendAnalysis.Fit(errors), requests.Length, streak,
            requests.Length == 0 ? 0 : (double)anomalies / requests.Length);
    }

    /// <summary>Forgets the history of one key, or of all keys.</summary>
    public void Reset(string? key = null)
    {
        if (key is null)
        {
            _history.Clear();
        }
        else
        {
            _history.TryRemove(key, out _);
        }
    }

    private readonly record struct Judgement(
        bool IsAnomaly, TrafficAnomalyType Type, double Score, double Threshold, double Normalized, double Confidence, IReadOnlyList<FeatureContribution> Contributions);

    private static Judgement Judge(AnomalyModel model, ReadOnlySpan<double> features, ReadOnlySpan<double> z)
    {
        var assessment = model.Assess(features);
        var isAnomaly = assessment.IsAnomaly;
        var normalized = assessment.Normalized;
        var confidence = assessment.Confidence;
        var contributions = assessment.Contributions;
        if (!isAnomaly && TrafficAnomalyTypes.IsTrafficDrop(z))
        {
            var (dropNormalized, dropConfidence) = AnomalyModel.NormalizeExtreme(Math.Abs(z[TrafficFeatures.RequestsPerSecond]), -TrafficAnomalyTypes.DropRobustZ);
            isAnomaly = true;
            normalized = Math.Max(normalized, dropNormalized);
            confidence = dropConfidence;
            contributions = model.Attribution(features) ?? contributions;
        }

        return new Judgement(isAnomaly, TrafficAnomalyTypes.Classify(z, isAnomaly), assessment.Score, assessment.Threshold, normalized, confidence, contributions);
    }

    private static string Explain(Judgement judged, Severity? severity, int streak, bool confirmed)
    {
        var persistence = confirmed ? $", confirmed: {streak} anomalous intervals in a row" : streak > 1 ? $", {streak} anomalous intervals in a row" : "";
        var verdict = severity is { } s
            ? string.Create(CultureInfo.InvariantCulture,
                $"{TrafficAnomalyTypes.Describe(judged.Type)}, {SeverityPolicy.Name(s)} severity{persistence} (normalized score {judged.Normalized:0.00}, threshold 0.50)")
            : string.Create(CultureInfo.InvariantCulture, $"Normal (normalized score {judged.Normalized:0.00}, threshold 0.50)");
        // Several groups drove a multi-dimensional anomaly; name all of them.
        var top = judged.Type == TrafficAnomalyType.MultiDimensional ? 5 : 3;
        return Explanation.Describe(verdict, judged.Contributions, judged.IsAnomaly, top);
    }

    private static void CheckSchema(AnomalyModel model)
    {
        if (model.Schema.Hash != TrafficFeatures.Schema.Hash)
        {
            throw new ModelSchemaMismatchException($"A traffic detector needs a {TrafficFeatures.Schema.Id} model, not {model.Schema.Id}.");
        }
    }

    /// <summary>Ring buffer of the recent intervals of one key, and its current anomaly streak.</summary>
    private sealed class History(int capacity)
    {
        private readonly double[] _requests = new double[capacity];
        private readonly double[] _latency = new double[capacity];
        private readonly double[] _errors = new double[capacity];
        private readonly bool[] _anomalous = new bool[capacity];
        private int _next;
        private int _count;

        public int Streak { get; private set; }

        public int Add(TrafficMetrics metrics, bool anomalous)
        {
            _requests[_next] = metrics.RequestsPerSecond;
            _latency[_next] = metrics.AvgLatencyMs;
            _errors[_next] = metrics.ErrorRate;
            _anomalous[_next] = anomalous;
            _next = (_next + 1) % capacity;
            _count = Math.Min(_count + 1, capacity);
            Streak = anomalous ? Streak + 1 : 0;
            return Streak;
        }

        public (double[] Requests, double[] Latency, double[] Errors, int Anomalies) Last(int window)
        {
            var n = Math.Min(window, _count);
            var requests = new double[n];
            var latency = new double[n];
            var errors = new double[n];
            var anomalies = 0;
            for (var i = 0; i < n; i++)
            {
                var at = ((_next - n + i) % capacity + capacity) % capacity;
                requests[i] = _requests[at];
                latency[i] = _latency[at];
                errors[i] = _errors[at];
                anomalies += _anomalous[at] ? 1 : 0;
            }

            return (requests, latency, errors, anomalies);
        }
    }
}

/// <summary>Trains a traffic model from gateway intervals through the same feature path /detect uses.</summary>
public static class TrafficModel
{
    public const double DefaultContamination = 0.1;

    public static AnomalyModel Train(IReadOnlyList<TrafficMetrics> intervals, double contamination = DefaultContamination, ulong seed = 42) =>
        AnomalyModel.Train(TrafficFeatures.Schema, TrafficFeatures.ToRows(intervals),
            new IsolationForestOptions { Contamination = contamination, Seed = seed }, AnomalyModel.DefaultExtremeRobustZ);
}
