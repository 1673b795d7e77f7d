using System.Collections;
using Helios.ServiceDefaults.Configuration;

namespace Helios.ServiceDefaults.Tests.Configuration;

public sealed class SeedAliasesTests
{
    private static readonly Func<string, string?> NothingSet = _ => null;

    [Fact]
    public void Resolve_DatabaseAndKafkaAliases_ProduceConnectionStrings()
    {
        var environment = new Hashtable
        {
            ["DB_HOST"] = "db.internal",
            ["DB_PORT"] = "6543",
            ["DB_NAME"] = "anomalies",
            ["DB_USER"] = "svc",
            ["DB_PASSWORD"] = "s3cret",
            ["KAFKA_BROKERS"] = "k1:9092,k2:9092",
        };

        var resolved = SeedAliases.Resolve(environment, NothingSet);

        Assert.Equal("Host=db.internal;Port=6543;Database=anomalies;Username=svc;Password=s3cret", resolved["ConnectionStrings:helios"]);
        Assert.Equal("k1:9092,k2:9092", resolved["ConnectionStrings:kafka"]);
        Assert.Equal(2, resolved.Count);
    }

    [Fact]
    public void Resolve_OnlyDbHost_DefaultsPortAndDatabaseWithoutCredentials()
    {
        var resolved = SeedAliases.Resolve(new Hashtable { ["DB_HOST"] = "db" }, NothingSet);

        Assert.Equal("Host=db;Port=5432;Database=helios", resolved["ConnectionStrings:helios"]);
    }

    [Fact]
    public void Resolve_DbPartsWithoutHost_ProduceNoConnectionString()
    {
        var resolved = SeedAliases.Resolve(new Hashtable { ["DB_PORT"] = "6543", ["DB_NAME"] = "x", ["DB_USER"] = "u" }, NothingSet);

        Assert.Empty(resolved);
    }

    [Fact]
    public void Resolve_DetectionAndTopicAliases_ProduceHeliosKeys()
    {
        var environment = new Hashtable
        {
            ["WINDOW_SIZE_MINUTES"] = "1",
            ["MIN_EVENTS_PER_WINDOW"] = "3",
            ["ALERT_COOLDOWN_MINUTES"] = "7",
            ["CONTAMINATION"] = "0.1",
            ["ANOMALY_THRESHOLD"] = "-0.6",
            ["KAFKA_EVENTS_TOPIC"] = "ev",
            ["KAFKA_ALERTS_TOPIC"] = "al",
        };

        var resolved = SeedAliases.Resolve(environment, NothingSet);

        Assert.Equal(
            new Dictionary<string, string?>
            {
                ["Helios:Detection:WindowSizeMinutes"] = "1",
                ["Helios:Detection:MinEventsPerWindow"] = "3",
                ["Helios:Detection:AlertCooldownMinutes"] = "7",
                ["Helios:Detection:Contamination"] = "0.1",
                ["Helios:Detection:AnomalyThreshold"] = "-0.6",
                ["Helios:Kafka:EventsTopic"] = "ev",
                ["Helios:Kafka:AlertsTopic"] = "al",
            }.OrderBy(p => p.Key, StringComparer.Ordinal),
            resolved.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void Resolve_CanonicalKeysAlreadySet_AreNotOverridden()
    {
        var existing = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["ConnectionStrings:helios"] = "Host=canonical",
            ["ConnectionStrings:kafka"] = "canonical:9092",
            ["Helios:Detection:WindowSizeMinutes"] = "5",
        };
        var environment = new Hashtable
        {
            ["DB_HOST"] = "alias-db",
            ["DB_USER"] = "alias",
            ["KAFKA_BROKERS"] = "alias:9092",
            ["WINDOW_SIZE_MINUTES"] = "1",
            ["MIN_EVENTS_PER_WINDOW"] = "3",
        };

        var resolved = SeedAliases.Resolve(environment, key => existing.GetValueOrDefault(key));

        Assert.DoesNotContain("ConnectionStrings:helios", resolved.Keys);
        Assert.DoesNotContain("ConnectionStrings:kafka", resolved.Keys);
        Assert.DoesNotContain("Helios:Detection:WindowSizeMinutes", resolved.Keys);
        // An alias whose canonical key is not set still applies.
        Assert.Equal("3", Assert.Single(resolved).Value);
        Assert.Equal("Helios:Detection:MinEventsPerWindow", Assert.Single(resolved).Key);
    }

    [Fact]
    public void Resolve_EmptyAliasValues_AreIgnored()
    {
        var resolved = SeedAliases.Resolve(new Hashtable { ["DB_HOST"] = "", ["KAFKA_BROKERS"] = "", ["WINDOW_SIZE_MINUTES"] = "" }, NothingSet);

        Assert.Empty(resolved);
    }
}
