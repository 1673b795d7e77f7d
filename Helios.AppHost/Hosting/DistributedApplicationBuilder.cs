using Helios.AppHost.Testing;
using Helios.ServiceDefaults.Configuration;
using Microsoft.Extensions.Configuration;

namespace Helios.AppHost.Hosting;

/// <summary>
/// Declares the resource graph, in the shape of Aspire's IDistributedApplicationBuilder:
/// AddPostgres/AddDatabase/AddKafka/AddProject with WithReference and WaitFor.
/// Ports come from the defaults in Program.cs, overridable as AppHost:Ports:&lt;name&gt;
/// (environment AppHost__Ports__api=6080); the testing builder sets them all free.
/// </summary>
public sealed class DistributedApplicationBuilder
{
    internal DistributedApplicationBuilder(string[] args, TestingContext? testing)
    {
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args).Build();
        var aliases = SeedAliases.Resolve(Environment.GetEnvironmentVariables(), key => configuration[key]);
        Configuration = new ConfigurationBuilder().AddConfiguration(configuration).AddInMemoryCollection(aliases).Build();
        Testing = testing;
        RepositoryRoot = FindRepositoryRoot();
        DataDirectory = testing?.DataDirectory ?? Configuration["AppHost:DataDirectory"] ?? Path.Combine(RepositoryRoot, ".helios");
    }

    public IConfiguration Configuration { get; }

    public string RepositoryRoot { get; }

    /// <summary>Where embedded servers keep data between runs (git-ignored .helios/ by default).</summary>
    public string DataDirectory { get; }

    internal TestingContext? Testing { get; }

    internal List<Resource> Resources { get; } = [];

    public int Port(string name, int defaultPort) =>
        Testing is not null ? 0 : Configuration.GetValue($"AppHost:Ports:{name}", defaultPort);

    public ResourceBuilder<PostgresServerResource> AddPostgres(string name, int port = 15432)
    {
        var memory = Configuration.GetValue("AppHost:PostgresMemoryMiB", EmbeddedPostgres.DefaultMemoryLimitMiB);
        if (memory < 0)
        {
            throw new InvalidOperationException($"AppHost:PostgresMemoryMiB must be 0 (no limit) or more, not {memory}.");
        }

        var weight = Configuration.GetValue("AppHost:PostgresCpuWeight", PostgresServerResource.LocalStackCpuWeight);
        if (weight is < 1 or > 10_000)
        {
            throw new InvalidOperationException($"AppHost:PostgresCpuWeight must be a whole number from 1 to 10000 (100: a service's), not {weight}.");
        }

        return Add(new PostgresServerResource(name, Port(name, port), Path.Combine(DataDirectory, name)) { MemoryLimitMiB = memory, CpuWeight = weight });
    }

    public ResourceBuilder<KafkaResource> AddKafka(string name, int port = 19092) =>
        Add(new KafkaResource(name, Port(name, port), Configuration.GetConnectionString(name)));

    public ResourceBuilder<ProjectResource> AddProject(string name, ProjectMetadata project, int port) =>
        Add(new ProjectResource(name, project) { HttpPort = Port(name, port) });

    internal ResourceBuilder<T> Add<T>(T resource) where T : Resource
    {
        if (Resources.Any(r => r.Name == resource.Name))
        {
            throw new InvalidOperationException($"A resource named '{resource.Name}' already exists.");
        }

        Resources.Add(resource);
        return new ResourceBuilder<T>(this, resource);
    }

    public DistributedApplication Build()
    {
        Testing?.Configure?.Invoke(this);
        return new DistributedApplication(this);
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Helios.sln")))
            {
                return dir.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}

public sealed class ResourceBuilder<T>(DistributedApplicationBuilder builder, T resource) where T : Resource
{
    public DistributedApplicationBuilder ApplicationBuilder { get; } = builder;

    public T Resource { get; } = resource;

    public ResourceBuilder<T> WaitFor<TOther>(ResourceBuilder<TOther> other) where TOther : Resource
    {
        Resource.WaitsFor.Add(other.Resource);
        return this;
    }
}

public static class ResourceBuilderExtensions
{
    public static ResourceBuilder<PostgresDatabaseResource> AddDatabase(this ResourceBuilder<PostgresServerResource> server, string name)
    {
        var external = server.ApplicationBuilder.Configuration.GetConnectionString(name);
        var database = new PostgresDatabaseResource(name, server.Resource, external);
        server.Resource.Databases.Add(database);
        if (external is null)
        {
            database.WaitsFor.Add(server.Resource);
        }
        else if (server.Resource.Databases.All(d => d.IsExternal))
        {
            server.Resource.State = ResourceState.External;
        }

        return server.ApplicationBuilder.Add(database);
    }

    public static ResourceBuilder<KafkaResource> WithTopic(this ResourceBuilder<KafkaResource> kafka, string name, int partitions)
    {
        kafka.Resource.Topics.Add(new TopicSpec(name, partitions));
        return kafka;
    }

    /// <summary>Passes the resource's connection string as ConnectionStrings__&lt;name&gt;.</summary>
    public static ResourceBuilder<ProjectResource> WithReference<T>(this ResourceBuilder<ProjectResource> project, ResourceBuilder<T> target)
        where T : Resource, IResourceWithConnectionString
    {
        project.Resource.ConnectionReferences.Add(target.Resource);
        return project;
    }

    /// <summary>Passes the project's URL as services__&lt;name&gt;__http__0 (Aspire service discovery convention).</summary>
    public static ResourceBuilder<ProjectResource> WithReference(this ResourceBuilder<ProjectResource> project, ResourceBuilder<ProjectResource> service)
    {
        project.Resource.ServiceReferences.Add(service.Resource);
        return project;
    }

    public static ResourceBuilder<ProjectResource> WithEnvironment(this ResourceBuilder<ProjectResource> project, string name, string value)
    {
        project.Resource.Environment[name] = value;
        return project;
    }
}
