using System.Collections;

namespace Helios.ServiceDefaults.Configuration;

/// <summary>
/// The predecessors' environment names keep working. A canonical key that is already set
/// (ConnectionStrings__helios, Helios__Detection__...) always wins over its alias.
/// </summary>
public static class SeedAliases
{
    private static readonly (string Alias, string Key)[] Simple =
    [
        ("KAFKA_BROKERS", "ConnectionStrings:kafka"),
        ("KAFKA_EVENTS_TOPIC", "Helios:Kafka:EventsTopic"),
        ("KAFKA_ALERTS_TOPIC", "Helios:Kafka:AlertsTopic"),
        ("CONTAMINATION", "Helios:Detection:Contamination"),
        ("ANOMALY_THRESHOLD", "Helios:Detection:AnomalyThreshold"),
        ("WINDOW_SIZE_MINUTES", "Helios:Detection:WindowSizeMinutes"),
        ("MIN_EVENTS_PER_WINDOW", "Helios:Detection:MinEventsPerWindow"),
        ("ALERT_COOLDOWN_MINUTES", "Helios:Detection:AlertCooldownMinutes"),
    ];

    /// <summary>Canonical configuration keys derived from alias variables, for keys not set otherwise.</summary>
    public static Dictionary<string, string?> Resolve(IDictionary environment, Func<string, string?> existing)
    {
        string? Env(string name) => environment[name] as string is { Length: > 0 } v ? v : null;
        var result = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (alias, key) in Simple)
        {
            if (Env(alias) is { } value && existing(key) is null)
            {
                result[key] = value;
            }
        }

        if (existing("ConnectionStrings:helios") is null && DatabaseFromParts(Env) is { } cs)
        {
            result["ConnectionStrings:helios"] = cs;
        }

        return result;
    }

    /// <summary>DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD as an Npgsql connection string (null when DB_HOST is unset).</summary>
    public static string? DatabaseFromParts(Func<string, string?> env)
    {
        if (env("DB_HOST") is not { } host)
        {
            return null;
        }

        var parts = new List<string> { $"Host={host}", $"Port={env("DB_PORT") ?? "5432"}", $"Database={env("DB_NAME") ?? "helios"}" };
        if (env("DB_USER") is { } user)
        {
            parts.Add($"Username={user}");
        }

        if (env("DB_PASSWORD") is { } password)
        {
            parts.Add($"Password={password}");
        }

        return string.Join(';', parts);
    }
}
