using System.Diagnostics;
using System.Text.Json.Nodes;
using Helios.Core.Detection;
using Helios.Core.Features;
using Helios.Core.Synthetic;
using Helios.Core.Windows;

namespace Helios.Bench;

/// <summary>Training speed: forest fitting, and a whole event model from raw synthetic events.</summary>
internal sealed class TrainBenchmark : IBenchmark
{
    private const double BaseRps = 10;

    public string Name => "train";

    public string Summary => "fit 100 trees on 10,000 rows; event model for 8 services from 7 days of raw events";

    public Task<JsonObject> RunAsync(Report report, CancellationToken ct)
    {
        var start = BootstrapModel.TrainingStart;
        var end = start.AddDays(7);
        var window = TimeSpan.FromMinutes(5);
        report.Line($"Protocol: 7 days of seeded synthetic traffic for the 8 SPEC services at {BaseRps} events/s overall (daily seasonality),");
        report.Line("5-minute tumbling windows, min 10 events; extraction = windowing + the seven seed features through WindowAccumulator");
        report.Line("(the detector's code path) on one thread, then per-service baselines and the events v2 rows (12 features);");
        report.Line("fit = 100 trees, psi 256, offset from contamination 0.05; medians of repeated runs.");

        var generation = Stopwatch.StartNew();
        var services = SyntheticTraffic.Services.ToList();
        var events = SyntheticTraffic.Generate(start, end, BaseRps, 42)
            .Select(e => new WindowEvent(e.Timestamp.UtcTicks, services.IndexOf(e.Service), e.Level, e.LatencyMs, e.Endpoint))
            .ToArray();
        generation.Stop();
        report.Progress($"generated {events.Length:N0} events in {generation.Elapsed.TotalSeconds:0.0} s");
        ct.ThrowIfCancellationRequested();

        var names = services.Select(s => s.Name).ToArray();
        List<ClosedWindow> closed = [];
        var windowing = Median(5, () => closed = WindowBatch.Windows(events, names, window, end.UtcTicks));
        var eventsPerSecond = events.Length / windowing;
        ServiceBaselines baselines = new([]);
        double[] rows = [];
        var windows = 0;
        var relative = Median(5, () =>
        {
            baselines = ServiceBaselines.Fit(closed.Select(w => (w.Service, w.Start, w.End, w.Events)));
            rows = [.. closed.Where(w => w.Events.Count >= 10).SelectMany(w => EventWindowFeatures.For(w, baselines))];
            windows = rows.Length / EventWindowFeatures.Schema.Count;
        });
        var extract = windowing + relative;
        report.Progress($"{windows:N0} windows, extraction {extract * 1000:0} ms");

        var features = EventWindowFeatures.Schema.Count;
        var tenThousand = rows.AsSpan(0, Math.Min(10_000, windows) * features).ToArray();
        var fitOne = Median(11, () => IsolationForest.Fit(tenThousand, features, new IsolationForestOptions { MaxDegreeOfParallelism = 1 }));
        var fitAll = Median(11, () => IsolationForest.Fit(tenThousand, features, new IsolationForestOptions()));
        var modelOne = Median(5, () => AnomalyModel.Train(EventWindowFeatures.Schema, rows, new IsolationForestOptions { MaxDegreeOfParallelism = 1 }).WithServiceBaselines(baselines));
        var modelAll = Median(5, () => AnomalyModel.Train(EventWindowFeatures.Schema, rows, new IsolationForestOptions()).WithServiceBaselines(baselines));

        report.Table(["step", "threads", "seconds", "rate"],
        [
            ["generate raw events (simulation, not training)", 1, generation.Elapsed.TotalSeconds, $"{events.Length / generation.Elapsed.TotalSeconds:N0} events/s"],
            ["windows + seven seed features (WindowAccumulator)", 1, windowing, $"{eventsPerSecond:N0} events/s"],
            ["service baselines + events v2 rows", 1, relative, $"{windows:N0} rows"],
            ["fit 100 trees on 10,000 rows x 12 (with offset)", 1, fitOne, $"{fitOne * 1000:0.0} ms"],
            ["fit 100 trees on 10,000 rows x 12 (with offset)", Environment.ProcessorCount, fitAll, $"{fitAll * 1000:0.0} ms"],
            [$"train event model on all {windows:N0} windows", 1, modelOne, ""],
            [$"train event model on all {windows:N0} windows", Environment.ProcessorCount, modelAll, ""],
            ["whole training: windows + features + model", 1, extract + modelOne, "predecessor claimed about 120 s"],
        ]);
        return Task.FromResult(new JsonObject
        {
            ["events"] = events.Length,
            ["windows"] = windows,
            ["extract_events_per_s_1thread"] = Math.Round(eventsPerSecond),
            ["fit_10k_ms_1thread"] = Math.Round(fitOne * 1000, 1),
            ["fit_10k_ms_all"] = Math.Round(fitAll * 1000, 1),
            ["train_seconds_1thread"] = Math.Round(extract + modelOne, 3),
            ["train_seconds_all"] = Math.Round(extract + modelAll, 3),
        });
    }

    private static double Median(int runs, Action run)
    {
        run();
        var times = new double[runs];
        for (var i = 0; i < runs; i++)
        {
            var watch = Stopwatch.StartNew();
            run();
            times[i] = watch.Elapsed.TotalSeconds;
        }

        Array.Sort(times);
        return times[runs / 2];
    }
}
