using Helios.Core.Features;
using Helios.Core.Synthetic;

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
        var rows = SyntheticTraffic.TrainingWindows(TrainingStart, end, window, SyntheticTraffic.DefaultBaseRps, seed, minEvents, out var count);
        var model = AnomalyModel.Train(EventWindowFeatures.Schema, rows, new IsolationForestOptions { Contamination = contamination, Seed = seed });
        return (model, new TrainingSummary("synthetic-normal", TrainingStart, end, count, started.Elapsed.TotalSeconds));
    }
}
