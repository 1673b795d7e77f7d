namespace Helios.AppHost.Hosting;

public enum ResourceState { Pending, Starting, Running, Healthy, Restarting, Failed, Stopped, External }

/// <summary>A named part of the graph; names are lower case and double as connection-string keys.</summary>
public abstract class Resource(string name)
{
    public string Name { get; } = name;

    public ResourceState State { get; internal set; } = ResourceState.Pending;

    public abstract string Kind { get; }

    /// <summary>What the console table shows: a URL or an address.</summary>
    public virtual string Display => "";

    /// <summary>Resources that must be healthy before this one starts.</summary>
    public List<Resource> WaitsFor { get; } = [];

    internal TaskCompletionSource Healthy { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

public interface IResourceWithConnectionString
{
    string Name { get; }

    /// <summary>Known once the resource runs (or at once for an external resource).</summary>
    string? ConnectionString { get; }
}

public sealed class PostgresServerResource(string name, int port, string dataDirectory) : Resource(name)
{
    public override string Kind => "postgres";

    public int Port { get; internal set; } = port;

    public string DataDirectory { get; } = dataDirectory;

    /// <summary>The embedded server's memory limit, page cache included (0: none); AppHost:PostgresMemoryMiB.</summary>
    public int MemoryLimitMiB { get; init; } = EmbeddedPostgres.DefaultMemoryLimitMiB;

    /// <summary>
    /// The local stack's default CPU weight for its database, on cgroup v2's scale: half a service's. Storing events is
    /// throughput work whose backlog waits in Kafka; scoring and publishing alerts is not, so on a machine the two share,
    /// the database gives way while the CPU is contended (see README, "The eleventh round").
    /// </summary>
    public const int LocalStackCpuWeight = 50;

    /// <summary>The embedded server's CPU weight while the CPU is contended (1 to 10,000); AppHost:PostgresCpuWeight.</summary>
    public int CpuWeight { get; init; } = LocalStackCpuWeight;

    public List<PostgresDatabaseResource> Databases { get; } = [];

    public EmbeddedPostgres? Server { get; internal set; }

    public override string Display => Server is null ? "" : $"127.0.0.1:{Port} (data {DataDirectory})";
}

public sealed class PostgresDatabaseResource(string name, PostgresServerResource server, string? external) : Resource(name), IResourceWithConnectionString
{
    public override string Kind => "database";

    public PostgresServerResource Server { get; } = server;

    public bool IsExternal => external is not null;

    public string? ConnectionString => external ?? Server.Server?.ConnectionString(Name);

    public override string Display => Redact(ConnectionString);

    internal static string Redact(string? cs) =>
        cs is null ? "" : string.Join(';', cs.Split(';').Where(p => !p.StartsWith("Password", StringComparison.OrdinalIgnoreCase)));
}

public sealed record TopicSpec(string Name, int Partitions);

public sealed class KafkaResource(string name, int port, string? external) : Resource(name), IResourceWithConnectionString
{
    public override string Kind => "kafka";

    public int Port { get; internal set; } = port;

    public bool IsExternal => external is not null;

    public List<TopicSpec> Topics { get; } = [];

    public KafkaMockCluster? Cluster { get; internal set; }

    public string? ConnectionString => external ?? Cluster?.BootstrapServers;

    public override string Display => $"{ConnectionString} ({string.Join(", ", Topics.Select(t => $"{t.Name}x{t.Partitions}"))})";
}

public sealed class ProjectResource(string name, ProjectMetadata project) : Resource(name)
{
    public override string Kind => "project";

    public ProjectMetadata Project { get; } = project;

    public int HttpPort { get; internal set; }

    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    public List<IResourceWithConnectionString> ConnectionReferences { get; } = [];

    public List<ProjectResource> ServiceReferences { get; } = [];

    public int Restarts { get; internal set; }

    public int? ProcessId { get; internal set; }

    public Uri HttpEndpoint => new($"http://127.0.0.1:{HttpPort}");

    public override string Display => HttpEndpoint.ToString();
}
