using Helios.ServiceDefaults.Data;
using Microsoft.Extensions.Logging.Abstractions;

namespace Helios.ServiceDefaults.Tests.Data;

[Collection(InfrastructureCollection.Name)]
public sealed class MigrationRunnerTests(InfrastructureFixture infra)
{
    [Fact]
    public async Task ApplyAsync_FourServicesAtOnce_AppliesEachScriptExactlyOnce()
    {
        await using var db = await infra.NewDatabaseAsync();
        var progress = new List<string>();
        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            MigrationRunner.ApplyAsync(db, NullLogger.Instance, s => { lock (progress) { progress.Add(s); } }, CancellationToken.None)));

        Assert.Equal(MigrationRunner.Embedded.Count, runs.Sum());
        await using var cmd = db.CreateCommand("SELECT count(*) FROM schema_migrations");
        Assert.Equal((long)MigrationRunner.Embedded.Count, await cmd.ExecuteScalarAsync());
        Assert.Contains(progress, p => p.StartsWith("applying 0001_", StringComparison.Ordinal));
        Assert.Equal(0, await MigrationRunner.ApplyAsync(db, NullLogger.Instance, null, CancellationToken.None));
    }

    [Fact]
    public void Embedded_AreOrderedWithUniqueVersions()
    {
        var versions = MigrationRunner.Embedded.Select(m => m.Version).ToList();
        Assert.NotEmpty(versions);
        Assert.Equal(versions.Order(), versions);
        Assert.Equal(versions.Distinct().Count(), versions.Count);
    }
}
