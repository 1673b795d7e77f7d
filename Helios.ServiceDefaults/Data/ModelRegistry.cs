using System.Text.Json;
using Helios.Core.Detection;
using Helios.Core.Features;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Helios.ServiceDefaults.Data;

public sealed record ModelRecord(
    long Version,
    string Kind,
    bool IsActive,
    ModelManifest Manifest,
    double Threshold,
    JsonElement Training,
    JsonElement Evaluation,
    DateTimeOffset CreatedAt);

/// <summary>The PostgreSQL model registry: every model with its manifest, one active per kind, append-only history.</summary>
public sealed class ModelRegistry(NpgsqlDataSource db, ILogger<ModelRegistry> logger)
{
    public const string EventsKind = "events";
    public const string TrafficKind = "traffic";
    private const long BootstrapLockKey = 0x48454C494F54;
    private const string Columns = "version, kind, is_active, threshold, training, evaluation, created_at, payload";

    public async Task<ModelRecord?> GetActiveAsync(string kind, CancellationToken ct) =>
        (await GetActiveWithPayloadAsync(kind, ct))?.Record;

    public async Task<(ModelRecord Record, byte[] Payload)?> GetActiveWithPayloadAsync(string kind, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT {Columns} FROM models WHERE kind = @kind AND is_active");
        cmd.Parameters.AddWithValue("kind", kind);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    public async Task<long?> GetActiveVersionAsync(string kind, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT version FROM models WHERE kind = @kind AND is_active");
        cmd.Parameters.AddWithValue("kind", kind);
        return await cmd.ExecuteScalarAsync(ct) is long v ? v : null;
    }

    /// <summary>Loads the active model of a kind for the caller's schema (throws on a schema mismatch).</summary>
    public async Task<(ModelRecord Record, AnomalyModel Model)?> LoadActiveAsync(string kind, FeatureSchema schema, CancellationToken ct)
    {
        var active = await GetActiveWithPayloadAsync(kind, ct);
        return active is { } a ? (a.Record, AnomalyModel.Deserialize(a.Payload, schema)) : null;
    }

    public async Task<long> RegisterAsync(string kind, AnomalyModel model, TrainingSummary training, bool activate, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var m = model.Manifest;
        long version;
        await using (var insert = new NpgsqlCommand(
            """
            INSERT INTO models (kind, feature_schema, parameters, threshold, training, payload)
            VALUES (@kind, @schema, @parameters, @threshold, @training, @payload)
            RETURNING version
            """, connection, tx))
        {
            insert.Parameters.AddWithValue("kind", kind);
            insert.Parameters.AddWithValue("schema", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(new { name = m.SchemaName, version = m.SchemaVersion, hash = m.SchemaHash, features = m.Features }));
            insert.Parameters.AddWithValue("parameters", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(new { trees = m.Trees, samples_per_tree = m.SamplesPerTree, contamination = m.Contamination, seed = m.Seed }));
            insert.Parameters.AddWithValue("threshold", model.Threshold);
            insert.Parameters.AddWithValue("training", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(new { source = training.Source, from = training.From, to = training.To, rows = training.Rows, seconds = training.Seconds }));
            insert.Parameters.AddWithValue("payload", model.Serialize());
            version = (long)(await insert.ExecuteScalarAsync(ct))!;
        }

        await AppendHistoryAsync(connection, tx, version, kind, "trained", ct);
        if (activate)
        {
            await ActivateAsync(connection, tx, version, kind, ct);
        }

        await tx.CommitAsync(ct);
        return version;
    }

    private static async Task ActivateAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long version, string kind, CancellationToken ct)
    {
        await using (var off = new NpgsqlCommand("UPDATE models SET is_active = false WHERE kind = @kind AND is_active AND version <> @v RETURNING version", connection, tx))
        {
            off.Parameters.AddWithValue("kind", kind);
            off.Parameters.AddWithValue("v", version);
            if (await off.ExecuteScalarAsync(ct) is long previous)
            {
                await AppendHistoryAsync(connection, tx, previous, kind, "deactivated", ct);
            }
        }

        await using (var on = new NpgsqlCommand("UPDATE models SET is_active = true WHERE version = @v", connection, tx))
        {
            on.Parameters.AddWithValue("v", version);
            await on.ExecuteNonQueryAsync(ct);
        }

        await AppendHistoryAsync(connection, tx, version, kind, "activated", ct);
    }

    private static async Task AppendHistoryAsync(NpgsqlConnection connection, NpgsqlTransaction tx, long version, string kind, string action, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("INSERT INTO model_history (version, kind, action) VALUES (@v, @k, @a)", connection, tx);
        cmd.Parameters.AddWithValue("v", version);
        cmd.Parameters.AddWithValue("k", kind);
        cmd.Parameters.AddWithValue("a", action);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// First start: when no events model is active (or the active one has another feature schema
    /// than this build), one service trains the bootstrap model on synthetic normal traffic while
    /// the others wait on the advisory lock, then all load it.
    /// </summary>
    public async Task<long> EnsureBootstrapEventModelAsync(TimeSpan window, int minEvents, double contamination, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock(@k)", connection))
        {
            take.Parameters.AddWithValue("k", BootstrapLockKey);
            await take.ExecuteNonQueryAsync(ct);
        }

        try
        {
            var active = await GetActiveAsync(EventsKind, ct);
            if (active is { } existing && existing.Manifest.SchemaHash == EventWindowFeatures.Schema.Hash)
            {
                return existing.Version;
            }

            // No model, or one built for another feature schema (e.g. events v1 after an
            // upgrade to v2): this build cannot score with it, so it trains and activates one it can.
            var (model, summary) = BootstrapModel.TrainEventModel(window, minEvents, contamination);
            var version = await RegisterAsync(EventsKind, model, summary, activate: true, ct);
            logger.LogInformation("{Reason}: trained bootstrap model v{Version} ({Schema}) on {Rows} synthetic windows in {Seconds:0.00} s",
                active is null ? "No events model was active" : $"Active events model v{active.Version} uses {active.Manifest.SchemaName}.v{active.Manifest.SchemaVersion}",
                version, EventWindowFeatures.Schema.Id, summary.Rows, summary.Seconds);
            return version;
        }
        finally
        {
            await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock(@k)", connection);
            release.Parameters.AddWithValue("k", BootstrapLockKey);
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    private static (ModelRecord, byte[]) Read(NpgsqlDataReader r)
    {
        var payload = (byte[])r["payload"];
        var record = new ModelRecord(
            r.GetInt64(0),
            r.GetString(1),
            r.GetBoolean(2),
            AnomalyModel.ReadManifest(payload),
            r.GetDouble(3),
            JsonDocument.Parse(r.GetString(4)).RootElement.Clone(),
            JsonDocument.Parse(r.GetString(5)).RootElement.Clone(),
            r.GetFieldValue<DateTimeOffset>(6));
        return (record, payload);
    }
}
