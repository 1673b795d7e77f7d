using Helios.Core.Features;
using Helios.ServiceDefaults.Data;
using Microsoft.Extensions.Logging.Abstractions;

namespace Helios.ServiceDefaults.Tests.Data;

[Collection(InfrastructureCollection.Name)]
public sealed class ModelRegistryTests(InfrastructureFixture infra)
{
    [Fact]
    public async Task EnsureBootstrapEventModel_TwoServicesAtOnce_TrainOneActiveModel()
    {
        await using var db = await infra.NewMigratedDatabaseAsync();
        var registry = new ModelRegistry(db, NullLogger<ModelRegistry>.Instance);

        var versions = await Task.WhenAll(
            registry.EnsureBootstrapEventModelAsync(TimeSpan.FromMinutes(5), 10, 0.05, CancellationToken.None),
            registry.EnsureBootstrapEventModelAsync(TimeSpan.FromMinutes(5), 10, 0.05, CancellationToken.None));

        Assert.Equal(versions[0], versions[1]);
        await using (var count = db.CreateCommand("SELECT count(*) FROM models"))
        {
            Assert.Equal(1L, await count.ExecuteScalarAsync());
        }

        var loaded = await registry.LoadActiveAsync(ModelRegistry.EventsKind, EventWindowFeatures.Schema, CancellationToken.None);
        Assert.NotNull(loaded);
        Assert.Equal(versions[0], loaded.Value.Record.Version);
        Assert.Equal(loaded.Value.Model.Threshold, loaded.Value.Record.Threshold);
        Assert.Equal("synthetic-normal", loaded.Value.Record.Training.GetProperty("source").GetString());
        Assert.True(loaded.Value.Record.Training.GetProperty("rows").GetInt32() > 10_000);

        await using var history = db.CreateCommand("SELECT string_agg(action, ',' ORDER BY id) FROM model_history");
        Assert.Equal("trained,activated", await history.ExecuteScalarAsync());
    }

    [Fact]
    public async Task RegisterAsync_ActivateNewer_DeactivatesPreviousAndRecordsHistory()
    {
        await using var db = await infra.NewMigratedDatabaseAsync();
        var registry = new ModelRegistry(db, NullLogger<ModelRegistry>.Instance);
        var (model, summary) = Helios.Core.Detection.BootstrapModel.TrainEventModel(TimeSpan.FromMinutes(5), 10, 0.05, days: 1);

        var first = await registry.RegisterAsync(ModelRegistry.EventsKind, model, summary, activate: true, CancellationToken.None);
        var second = await registry.RegisterAsync(ModelRegistry.EventsKind, model, summary, activate: true, CancellationToken.None);

        Assert.Equal(second, await registry.GetActiveVersionAsync(ModelRegistry.EventsKind, CancellationToken.None));
        await using var history = db.CreateCommand("SELECT string_agg(version || ':' || action, ',' ORDER BY id) FROM model_history");
        Assert.Equal($"{first}:trained,{first}:activated,{second}:trained,{first}:deactivated,{second}:activated", await history.ExecuteScalarAsync());
    }

    [Fact]
    public async Task EnsureBootstrapEventModel_ActiveModelOfAnotherSchema_TrainsAndActivatesOneThisBuildCanScoreWith()
    {
        await using var db = await infra.NewMigratedDatabaseAsync();
        var registry = new ModelRegistry(db, NullLogger<ModelRegistry>.Instance);
        var start = Helios.Core.Detection.BootstrapModel.TrainingStart;
        var v1Rows = Helios.Core.Synthetic.SyntheticTraffic.TrainingWindows(start, start.AddDays(1), TimeSpan.FromMinutes(5), 2.0, 1, 10, out var rows);
        var v1 = Helios.Core.Detection.AnomalyModel.Train(EventWindowFeatures.SeedSchema, v1Rows, new Helios.Core.Detection.IsolationForestOptions());
        var old = await registry.RegisterAsync(ModelRegistry.EventsKind, v1,
            new Helios.Core.Detection.TrainingSummary("synthetic-normal", start, start.AddDays(1), rows, 0), activate: true, CancellationToken.None);

        var current = await registry.EnsureBootstrapEventModelAsync(TimeSpan.FromMinutes(5), 10, 0.05, CancellationToken.None);

        Assert.NotEqual(old, current);
        var loaded = await registry.LoadActiveAsync(ModelRegistry.EventsKind, EventWindowFeatures.Schema, CancellationToken.None);
        Assert.NotNull(loaded);
        Assert.Equal(current, loaded.Value.Record.Version);
        Assert.Equal(EventWindowFeatures.Schema.Hash, loaded.Value.Model.Manifest.SchemaHash);
        Assert.NotNull(loaded.Value.Model.ServiceBaselines);
        await using var history = db.CreateCommand("SELECT string_agg(version || ':' || action, ',' ORDER BY id) FROM model_history");
        Assert.Equal($"{old}:trained,{old}:activated,{current}:trained,{old}:deactivated,{current}:activated", await history.ExecuteScalarAsync());
    }
}
