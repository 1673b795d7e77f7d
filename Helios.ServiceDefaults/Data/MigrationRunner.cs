using System.Reflection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Helios.ServiceDefaults.Data;

/// <summary>
/// Applies the embedded, ordered SQL scripts (Data/Migrations/NNNN_name.sql) once, each in its own
/// transaction, under a PostgreSQL advisory lock so several services starting together are safe.
/// </summary>
public static class MigrationRunner
{
    private const long AdvisoryLockKey = 0x48454C494F53; // "HELIOS"

    public sealed record Migration(int Version, string Name, string Sql);

    public static IReadOnlyList<Migration> Embedded { get; } = LoadEmbedded();

    public static async Task<int> ApplyAsync(NpgsqlDataSource dataSource, ILogger logger, Action<string>? progress, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection))
        {
            lockCmd.Parameters.AddWithValue("key", AdvisoryLockKey);
            await lockCmd.ExecuteNonQueryAsync(ct);
        }

        try
        {
            await using (var create = new NpgsqlCommand(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, connection))
            {
                await create.ExecuteNonQueryAsync(ct);
            }

            var applied = new HashSet<int>();
            await using (var read = new NpgsqlCommand("SELECT version FROM schema_migrations", connection))
            await using (var reader = await read.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    applied.Add(reader.GetInt32(0));
                }
            }

            var count = 0;
            foreach (var migration in Embedded.Where(m => !applied.Contains(m.Version)))
            {
                progress?.Invoke($"applying {migration.Version:0000}_{migration.Name} ({count + 1} of {Embedded.Count - applied.Count})");
                await using var tx = await connection.BeginTransactionAsync(ct);
                await using (var run = new NpgsqlCommand(migration.Sql, connection, tx))
                {
                    await run.ExecuteNonQueryAsync(ct);
                }

                await using (var record = new NpgsqlCommand("INSERT INTO schema_migrations (version, name) VALUES (@v, @n)", connection, tx))
                {
                    record.Parameters.AddWithValue("v", migration.Version);
                    record.Parameters.AddWithValue("n", migration.Name);
                    await record.ExecuteNonQueryAsync(ct);
                }

                await tx.CommitAsync(ct);
                logger.LogInformation("Applied migration {Version:0000}_{Name}", migration.Version, migration.Name);
                count++;
            }

            return count;
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
            unlock.Parameters.AddWithValue("key", AdvisoryLockKey);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    private static List<Migration> LoadEmbedded()
    {
        var assembly = typeof(MigrationRunner).Assembly;
        var list = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.EndsWith(".sql", StringComparison.Ordinal)))
        {
            // Resource names look like Helios.ServiceDefaults.Data.Migrations.0001_models_and_alerts.sql
            var file = resource.Split(".Migrations.")[1][..^4];
            var underscore = file.IndexOf('_', StringComparison.Ordinal);
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            list.Add(new Migration(int.Parse(file[..underscore], System.Globalization.CultureInfo.InvariantCulture), file[(underscore + 1)..], reader.ReadToEnd()));
        }

        list.Sort((a, b) => a.Version.CompareTo(b.Version));
        if (list.Select(m => m.Version).Distinct().Count() != list.Count)
        {
            throw new InvalidOperationException("Two migrations share a version number.");
        }

        return list;
    }
}
