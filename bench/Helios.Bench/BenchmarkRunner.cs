using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Helios.Bench;

/// <summary>One benchmark: prints its protocol and table through <see cref="Report"/> and returns its figures.</summary>
internal interface IBenchmark
{
    string Name { get; }

    string Summary { get; }

    Task<JsonObject> RunAsync(Report report, CancellationToken ct);
}

internal static class BenchmarkRunner
{
    private static readonly IBenchmark[] All =
    [
        new OddsBenchmark(),
        new ScoreBenchmark(),
        new TrainBenchmark(),
        new ChaosBenchmark(),
        new NabBenchmark(),
        new HotPathBenchmark(),
    ];

    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    public static async Task<int> RunAsync(string[] args)
    {
        var name = args.FirstOrDefault() ?? "";
        // Not part of `all`: it starts the whole stack (PostgreSQL, broker, detector process) and runs for minutes.
        IBenchmark[] standalone = [new PipelineBenchmark(args.Skip(1).ToArray())];
        var selected = name == "all" ? All : All.Concat(standalone).Where(b => b.Name == name).ToArray();
        if (selected.Length == 0)
        {
            Console.Error.WriteLine("usage: Helios.Bench <" + string.Join('|', All.Concat(standalone).Select(b => b.Name)) + "|all>   (all = every one but pipeline)");
            foreach (var b in All.Concat(standalone))
            {
                Console.Error.WriteLine($"  {b.Name,-8} {b.Summary}");
            }

            Console.Error.WriteLine("  " + PipelineOptions.Usage);
            return 2;
        }

        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };

        var report = new Report(Console.Out);
        report.Line($"Helios.Bench on {Environment.ProcessorCount} core(s), .NET {Environment.Version}, {(Debugger.IsAttached ? "debugger attached" : "no debugger")}");
        var combined = new JsonObject { ["bench"] = name };
        JsonObject? last = null;
        foreach (var benchmark in selected)
        {
            report.Heading($"{benchmark.Name}: {benchmark.Summary}");
            var started = Stopwatch.StartNew();
            try
            {
                last = await benchmark.RunAsync(report, cts.Token);
            }
            catch (ArgumentException ex)
            {
                Console.Error.WriteLine($"{benchmark.Name}: {ex.Message}");
                return 2;
            }

            last["seconds"] = Math.Round(started.Elapsed.TotalSeconds, 1);
            combined[benchmark.Name] = JsonNode.Parse(last.ToJsonString());
            if (selected.Length > 1)
            {
                report.Line(last.ToJsonString(Compact));
            }
        }

        var result = selected.Length == 1 ? new JsonObject { ["bench"] = name }.Merge(last!) : combined;
        Console.WriteLine(result.ToJsonString(Compact));
        return 0;
    }

    private static JsonObject Merge(this JsonObject target, JsonObject source)
    {
        foreach (var (key, value) in source)
        {
            target[key] = value?.DeepClone();
        }

        return target;
    }
}
