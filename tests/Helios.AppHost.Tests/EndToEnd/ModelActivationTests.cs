using System.Diagnostics;
using Helios.Core.Detection;
using Helios.ServiceDefaults.Data;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Xunit.Abstractions;

namespace Helios.AppHost.Tests.EndToEnd;

/// <summary>Activating another model version reaches the running detector without a restart.</summary>
[Collection(StackCollection.Name)]
public sealed class ModelActivationTests(StackFixture stack, ITestOutputHelper output)
{
    [Fact]
    public async Task ActivateModel_NewVersion_RunningDetectorScoresWithItWithoutRestart()
    {
        await using var db = NpgsqlDataSource.Create(stack.App.GetConnectionString("helios")!);
        var registry = new ModelRegistry(db, NullLogger<ModelRegistry>.Instance);
        var detector = (Helios.AppHost.Hosting.ProjectResource)stack.App["detector"];
        var process = detector.ProcessId;
        await PipelineTests.Eventually(async () => await stack.MetricAsync("detector", "helios_detection_model_version") > 0, "detector reports its model");

        // The same training as the bootstrap model, so other tests see the same behaviour under a new version.
        var (model, summary) = BootstrapModel.TrainEventModel(TestTraffic.Window, 10, 0.05);
        var activated = Stopwatch.StartNew();
        var version = await registry.RegisterAsync(ModelRegistry.EventsKind, model, summary, activate: true, CancellationToken.None);
        await PipelineTests.Eventually(async () => await stack.MetricAsync("detector", "helios_detection_model_version") == version, $"detector on model v{version}", seconds: 30);
        output.WriteLine($"model v{version} in use by the running detector {activated.Elapsed.TotalSeconds:0.00} s after activation (target 2 s)");
        Assert.Equal(process, detector.ProcessId);

        // Windows closed from now on carry the new version.
        var services = Helios.Core.Synthetic.SyntheticTraffic.Services.Where(s => s.Name is "auth-service" or "inventory-service").ToList();
        var start = stack.ReserveStart();
        var events = TestTraffic.WithStorm(services, "auth-service", start, windows: 2, stormWindow: 5, seed: 9);
        await TestTraffic.PublishAsync(stack.Api, events);
        await PipelineTests.Eventually(async () =>
        {
            await using var cmd = db.CreateCommand("SELECT count(*) FROM scored_windows WHERE model_version = @v AND window_start >= @start AND scored");
            cmd.Parameters.AddWithValue("v", version);
            cmd.Parameters.AddWithValue("start", start);
            return (long)(await cmd.ExecuteScalarAsync())! >= 2;
        }, "windows scored with the new model");
    }
}
