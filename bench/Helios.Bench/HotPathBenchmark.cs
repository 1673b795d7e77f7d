using System.Diagnostics;
using System.Text.Json.Nodes;
using Helios.Core.Detection;
using Helios.Core.Events;
using Helios.Core.Features;
using Helios.Core.Synthetic;
using Helios.Core.Windows;

namespace Helios.Bench;

/// <summary>
/// Where the detector's time goes per event, without Kafka: each stage of the per-event path and of the
/// per-window path timed on its own, on one thread, on the same ~300-byte events the pipeline benchmark sends.
/// </summary>
internal sealed class HotPathBenchmark : IBenchmark
{
    private const int Services = 10_000;
    private const int Events = 2_000_000;

    public string Name => "hotpath";

    public string Summary => "the detector's per-event and per-window stages on one thread, without Kafka (a profile of the hot path)";

    public Task<JsonObject> RunAsync(Report report, CancellationToken ct)
    {
        report.Line($"Protocol: {Events:N0} events of about 300 bytes (the pipeline benchmark's generator) for {Services:N0} services over 10 one-minute windows, in time order;");
        report.Line("each stage timed alone on one thread, best of 3 runs after a warm-up; ns per event (or per window).");
        var payloads = Payloads();
        report.Line($"Mean payload {payloads.Average(p => p.Length):0} bytes.");
        var parsed = new TelemetryEvent[payloads.Length];
        var rows = new List<IReadOnlyList<object?>>();
        var result = new JsonObject();

        void Stage(string name, string unit, int count, Action run)
        {
            ct.ThrowIfCancellationRequested();
            var ns = BestNanoseconds(run) / count;
            rows.Add([name, unit, Math.Round(ns, 1), Math.Round(1e9 / ns)]);
            result[name.Replace(' ', '_')] = Math.Round(ns, 1);
        }

        Stage("parse full", "event", payloads.Length, () =>
        {
            for (var i = 0; i < payloads.Length; i++)
            {
                parsed[i] = EventParser.TryParse(payloads[i], out var e, out var error) ? e! : throw new InvalidOperationException(error!.Reason);
            }
        });

        var fields = new EventFields[payloads.Length];
        var reader = new EventFieldsReader();
        Stage("parse fast", "event", payloads.Length, () => ReadFast(reader, payloads, fields));

        var size = TimeSpan.FromMinutes(1);
        List<ClosedWindow> closed = [];
        Stage("window add", "event", parsed.Length, () =>
        {
            var windows = new EventTimeWindows(size, TimeSpan.Zero);
            var now = DateTimeOffset.UtcNow;
            closed = [];
            for (var i = 0; i < parsed.Length; i++)
            {
                windows.Add(fields[i], i & 7, now.UtcTicks);
                if ((i & 1023) == 0)
                {
                    windows.DrainClosed(closed, now); // as the detector drains: into a reused list
                }
            }
        });

        Stage("commit hold", "event", parsed.Length, () =>
        {
            var commits = new CommitTracker();
            for (var i = 0; i < fields.Length; i++)
            {
                var ticks = fields[i].TimestampTicks;
                commits.Hold(fields[i].Service, ticks - (ticks % size.Ticks), i & 7, i);
            }
        });

        var model = BootstrapModel.TrainEventModel(TimeSpan.FromMinutes(5), 10, 0.05, days: 2).Model;
        var sample = closed.Take(Services).ToList();
        var features = new double[sample.Count][];
        Stage("window features", "window", sample.Count, () =>
        {
            for (var i = 0; i < sample.Count; i++)
            {
                features[i] = EventWindowFeatures.For(sample[i], model.ServiceBaselines);
            }
        });
        Stage("window assess", "window", sample.Count, () =>
        {
            foreach (var f in features)
            {
                model.Assess(f);
            }
        });
        Stage("window evidence", "window", sample.Count, () =>
        {
            var tracker = new EvidenceTracker(size);
            var batch = sample.Select((w, i) => new WindowSurprise(w.Service, w.Start.UtcTicks, SurpriseGuard.Score(features[i]))).ToList();
            tracker.Evaluate(batch, new Evidence[batch.Count]);
        });

        report.Table(["stage", "per", "ns", "per second"], rows);
        result["services"] = Services;
        result["payload_bytes"] = Math.Round(payloads.Average(p => p.Length));
        return Task.FromResult(result);
    }

    /// <summary>
    /// The machine's speed as the pipeline benchmark prints it beside its rates: this benchmark's `parse fast` stage on
    /// <paramref name="events"/> events (best of 3 after a warm-up, one thread), in ns per event.
    /// </summary>
    public static double FastReadNanoseconds(int events)
    {
        var payloads = Payloads(events);
        var reader = new EventFieldsReader();
        var fields = new EventFields[payloads.Length];
        return BestNanoseconds(() => ReadFast(reader, payloads, fields)) / events;
    }

    /// <summary>The `parse fast` stage: every payload through the detector's fast reader, which must take them all.</summary>
    private static void ReadFast(EventFieldsReader reader, byte[][] payloads, EventFields[] fields)
    {
        for (var i = 0; i < payloads.Length; i++)
        {
            fields[i] = reader.TryRead(payloads[i], out var e) ? e : throw new InvalidOperationException("fast path refused a plain event");
        }
    }

    /// <summary>The pipeline benchmark's events (its generator), in order: every service window holds 20 events.</summary>
    private static byte[][] Payloads(int count = Events)
    {
        var generator = new PipelineTraffic(Services, count / (Services * 10), stormsPerWindow: 5, TimeSpan.FromMinutes(1)).NewGenerator();
        var payloads = new byte[count][];
        for (var n = 0; n < count; n++)
        {
            payloads[n] = generator.Next(n, out _);
        }

        return payloads;
    }

    private static double BestNanoseconds(Action run)
    {
        run();
        var best = double.MaxValue;
        for (var r = 0; r < 3; r++)
        {
            var sw = Stopwatch.StartNew();
            run();
            best = Math.Min(best, sw.Elapsed.TotalNanoseconds);
        }

        return best;
    }
}
