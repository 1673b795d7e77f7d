using Helios.AppHost.Hosting;
using Helios.ServiceDefaults.Data;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Helios.ServiceDefaults.Tests;

/// <summary>A real PostgreSQL server and the Kafka-protocol dev broker, shared by the integration tests.</summary>
public sealed class InfrastructureFixture : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "helios-sd-tests-" + Guid.NewGuid().ToString("N")[..8]);
    private int _databases;

    public EmbeddedPostgres Postgres { get; private set; } = null!;

    public KafkaMockCluster Kafka { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Postgres = await EmbeddedPostgres.StartAsync(Path.Combine(_directory, "pg"), 0, NullLogger.Instance, CancellationToken.None);
        Kafka = KafkaMockCluster.Start(0, NullLogger.Instance);
        Kafka.CreateTopic("events", 4);
    }

    /// <summary>A fresh, empty database so tests do not see each other's rows.</summary>
    public async Task<NpgsqlDataSource> NewDatabaseAsync() => NpgsqlDataSource.Create(await NewDatabaseConnectionStringAsync());

    /// <summary>A fresh database with every migration applied.</summary>
    public async Task<NpgsqlDataSource> NewMigratedDatabaseAsync()
    {
        var db = await NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(db, NullLogger.Instance, null, CancellationToken.None);
        return db;
    }

    public async Task<string> NewDatabaseConnectionStringAsync()
    {
        var name = $"t{Interlocked.Increment(ref _databases)}_{Guid.NewGuid().ToString("N")[..6]}";
        await Postgres.EnsureDatabaseAsync(name, CancellationToken.None);
        return Postgres.ConnectionString(name);
    }

    public async Task DisposeAsync()
    {
        Kafka?.Dispose();
        if (Postgres is not null)
        {
            await Postgres.StopAsync();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

[CollectionDefinition(Name)]
public sealed class InfrastructureCollection : ICollectionFixture<InfrastructureFixture>
{
    public const string Name = "infrastructure";
}
