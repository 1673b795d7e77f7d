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
        await using var db = await infra.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(db, NullLogger.Instance, null, CancellationToken.None);
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
        await using var db = await infra.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(db, NullLogger.Instance, null, CancellationToken.None);
        var registry = new ModelRegistry(db, NullLogger<ModelRegistry>.Instance);
        var (model, summary) = Helios.Core.Detection.BootstrapModel.TrainEventModel(TimeSpan.FromMinutes(5), 10, 0.05, days: 1);

        var first = await registry.RegisterAsync(ModelRegistry.EventsKind, model, summary, activate: true, CancellationToken.None);
        var second = await registry.RegisterAsync(ModelRegistry.EventsKind, model, summary, activate: true, CancellationToken.None);

        Assert.Equal(second, await registry.GetActiveVersionAsync(ModelRegistry.EventsKind, CancellationToken.None));
        await using var history = db.CreateCommand("SELECT string_agg(version || ':' || action, ',' ORDER BY id) FROM model_history");
        Assert.Equal($"{first}:trained,{first}:activated,{second}:trained,{first}:deactivated,{second}:activated", await history.ExecuteScalarAsync());
    }
}
