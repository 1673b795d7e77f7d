using Helios.Core.Features;
using Helios.Core.Synthetic;
using Helios.Core.Windows;

namespace Helios.Core.Detection;

public sealed record TrainingSummary(string Source, DateTimeOffset From, DateTimeOffset To, int Rows, double Seconds);

/// <summary>
/// The model trained when the registry has none: seven days of seeded synthetic normal traffic
/// for the eight synthetic services, windowed exactly as the detector windows.
/// </summary>
public static class BootstrapModel
{
    public static readonly DateTimeOffset TrainingStart = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    public static (AnomalyModel Model, TrainingSummary Summary) TrainEventModel(TimeSpan window, int minEvents, double contamination, ulong seed = 42, int days = 7)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var end = TrainingStart.AddDays(days);
        var windows = SyntheticTraffic.Windows(SyntheticTraffic.Generate(TrainingStart, end, SyntheticTraffic.DefaultBaseRps, seed), window, end);
        var model = TrainEventModel(windows, minEvents, new IsolationForestOptions { Contamination = contamination, Seed = seed }, out var rows);
        return (model, new TrainingSummary("synthetic-normal", TrainingStart, end, rows, started.Elapsed.TotalSeconds));
    }

    /// <summary>
    /// An events v2 model from closed windows: per-service baselines from all of them, then the
    /// forest on the feature rows of the windows with at least <paramref name="minEvents"/> events
    /// (the ones the detector scores). The baselines travel inside the model.
    /// </summary>
    public static AnomalyModel TrainEventModel(IReadOnlyList<ClosedWindow> windows, int minEvents, IsolationForestOptions options, out int rows)
    {
        var baselines = ServiceBaselines.Fit(windows.Select(w => (w.Service, w.Start, w.End, w.Events)));
        var features = new List<double>(windows.Count * EventWindowFeatures.Schema.Count);
        rows = 0;
        foreach (var w in windows)
        {
            if (w.Events.Count >= minEvents)
            {
                features.AddRange(EventWindowFeatures.For(w, baselines));
                rows++;
            }
        }

        return AnomalyModel.Train(EventWindowFeatures.Schema, [.. features], options).WithServiceBaselines(baselines);
    }
}
