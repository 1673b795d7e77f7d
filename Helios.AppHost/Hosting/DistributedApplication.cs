using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Helios.AppHost.Telemetry;
using Helios.AppHost.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Helios.AppHost.Hosting;

/// <summary>
/// Runs the declared graph: embedded PostgreSQL and Kafka-protocol broker (unless external
/// connection strings are given), an OTLP trace receiver, and the services as child processes
/// in wait-for order, each gated on its /health. Stopping ends everything it started.
/// </summary>
public sealed class DistributedApplication : IAsyncDisposable
{
    private readonly DistributedApplicationBuilder _builder;
    private readonly List<ProjectRunner> _runners = [];
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private int _stopped;

    internal DistributedApplication(DistributedApplicationBuilder builder)
    {
        _builder = builder;
        var echo = builder.Testing is null || Environment.GetEnvironmentVariable("HELIOS_TEST_ECHO") == "1";
        Log = new ResourceLog(echo) { PrefixWidth = builder.Resources.Max(r => r.Name.Length) };
        _loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        }).SetMinimumLevel(echo ? LogLevel.Information : LogLevel.Warning));
        _logger = _loggers.CreateLogger("Helios.AppHost");
    }

    public static DistributedApplicationBuilder CreateBuilder(string[] args) => new(args, TestingContext.Current);

    public IReadOnlyList<Resource> Resources => _builder.Resources;

    public ResourceLog Log { get; }

    /// <summary>Spans the services exported (null when an external OTLP endpoint is configured).</summary>
    public OtlpTraceReceiver? Traces { get; private set; }

    public TimeSpan StartupTime { get; private set; }

    public Resource this[string name] => Resources.FirstOrDefault(r => r.Name == name) ?? throw new KeyNotFoundException($"No resource named '{name}'.");

    public string? GetConnectionString(string name) => (this[name] as IResourceWithConnectionString)?.ConnectionString;

    public Uri GetEndpoint(string name) => ((ProjectResource)this[name]).HttpEndpoint;

    public HttpClient CreateHttpClient(string name) => new() { BaseAddress = GetEndpoint(name), Timeout = TimeSpan.FromSeconds(30) };

    public async Task StartAsync(CancellationToken ct = default)
    {
        var clock = Stopwatch.StartNew();
        Console.Out.WriteLine(_builder.Testing is null ? "Helios AppHost: starting the local stack (Ctrl+C stops everything)" : "");
        try
        {
            var otlp = _builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
            if (string.IsNullOrWhiteSpace(otlp))
            {
                Traces = await OtlpTraceReceiver.StartAsync(_builder.Port("otlp", 18890), ct);
            }

            await Task.WhenAll(Resources.Select(r => StartResourceAsync(r, ct)));
            StartupTime = clock.Elapsed;
            if (_builder.Testing is null)
            {
                Console.Out.WriteLine(Table());
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"All resources healthy in {StartupTime.TotalSeconds:0.0} s. Dashboard: {(Resources.OfType<ProjectResource>().FirstOrDefault(p => p.Name == "web")?.HttpEndpoint.ToString() ?? "-")}"));
            }
        }
        catch
        {
            await StopAsync();
            throw;
        }
    }

    private async Task StartResourceAsync(Resource resource, CancellationToken ct)
    {
        foreach (var dependency in resource.WaitsFor)
        {
            await dependency.Healthy.Task.WaitAsync(ct);
        }

        resource.State = resource.State == ResourceState.External ? ResourceState.External : ResourceState.Starting;
        switch (resource)
        {
            case PostgresServerResource server when server.State != ResourceState.External:
                server.Server = await EmbeddedPostgres.StartAsync(server.DataDirectory, server.Port, _loggers.CreateLogger("postgres"), ct, server.MemoryLimitMiB, server.CpuWeight);
                server.Port = server.Server.Port;
                server.State = ResourceState.Running;
                break;
            case PostgresDatabaseResource { IsExternal: false } database:
                await database.Server.Server!.EnsureDatabaseAsync(database.Name, ct);
                database.State = ResourceState.Running;
                break;
            case KafkaResource { IsExternal: false } kafka:
                kafka.Cluster = KafkaMockCluster.Start(kafka.Port, _loggers.CreateLogger("kafka"));
                kafka.Port = int.Parse(kafka.Cluster.BootstrapServers.Split(':')[^1], CultureInfo.InvariantCulture);
                foreach (var topic in kafka.Topics)
                {
                    kafka.Cluster.CreateTopic(topic.Name, topic.Partitions);
                }

                kafka.State = ResourceState.Running;
                break;
            case KafkaResource kafka:
                await ExternalKafka.EnsureTopicsAsync(kafka.ConnectionString!, kafka.Topics, _logger, ct);
                kafka.State = ResourceState.External;
                break;
            case ProjectResource project:
                if (project.HttpPort == 0)
                {
                    project.HttpPort = FreePort();
                }

                var runner = new ProjectRunner(project, () => EnvironmentFor(project), Log, _logger);
                lock (_runners)
                {
                    _runners.Add(runner);
                }

                await runner.StartAsync(ct);
                _logger.LogInformation("{Resource} healthy at {Url}", project.Name, project.HttpEndpoint);
                break;
            default:
                resource.State = ResourceState.External;
                break;
        }

        resource.Healthy.TrySetResult();
    }

    private Dictionary<string, string> EnvironmentFor(ProjectResource project)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["ASPNETCORE_URLS"] = project.HttpEndpoint.ToString(),
            ["ASPNETCORE_ENVIRONMENT"] = _builder.Configuration["ASPNETCORE_ENVIRONMENT"] ?? "Development",
            ["OTEL_SERVICE_NAME"] = project.Name,
            ["OTEL_BSP_SCHEDULE_DELAY"] = "1000",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "10000",
            ["HELIOS_APPHOST_PID"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
        };
        if (Traces is not null)
        {
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = Traces.Endpoint.ToString().TrimEnd('/');
            env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
        }
        else
        {
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = _builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]!;
        }

        foreach (var reference in project.ConnectionReferences)
        {
            env[$"ConnectionStrings__{reference.Name}"] = reference.ConnectionString ?? throw new InvalidOperationException($"{reference.Name} has no connection string yet.");
        }

        foreach (var service in project.ServiceReferences)
        {
            env[$"services__{service.Name}__http__0"] = service.HttpEndpoint.ToString().TrimEnd('/');
        }

        foreach (var (key, value) in project.Environment)
        {
            env[key] = value;
        }

        return env;
    }

    /// <summary>Starts the graph and blocks until Ctrl+C or SIGTERM, then stops everything.</summary>
    public async Task RunAsync(CancellationToken ct = default)
    {
        if (TestingContext.Current is { } testing)
        {
            testing.Capture(this);
            return;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });
        try
        {
            await StartAsync(stop.Token);
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            Console.Out.WriteLine("Stopping Helios...");
            await StopAsync();
            Console.Out.WriteLine("Stopped.");
        }
    }

    public void Run() => RunAsync().GetAwaiter().GetResult();

    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        ProjectRunner[] runners;
        lock (_runners)
        {
            runners = [.. _runners];
        }

        await Task.WhenAll(runners.Select(r => r.StopAsync(TimeSpan.FromSeconds(10))));
        foreach (var kafka in Resources.OfType<KafkaResource>())
        {
            kafka.Cluster?.Dispose();
            kafka.Cluster = null;
            kafka.State = ResourceState.Stopped;
        }

        foreach (var server in Resources.OfType<PostgresServerResource>())
        {
            if (server.Server is { } pg)
            {
                await pg.StopAsync();
                server.State = ResourceState.Stopped;
            }
        }

        if (Traces is not null)
        {
            await Traces.DisposeAsync();
        }

        _loggers.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _builder.Testing?.Cleanup();
    }

    public string Table()
    {
        var rows = Resources.Select(r => (r.Name, r.Kind, State: r.State.ToString(), r.Display)).ToList();
        if (Traces is not null)
        {
            rows.Add(("otlp", "telemetry", "Running", Traces.Endpoint.ToString()));
        }

        var w1 = Math.Max(8, rows.Max(r => r.Name.Length));
        var w2 = Math.Max(4, rows.Max(r => r.Kind.Length));
        var w3 = Math.Max(5, rows.Max(r => r.State.Length));
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine($"{"RESOURCE".PadRight(w1)}  {"TYPE".PadRight(w2)}  {"STATE".PadRight(w3)}  ENDPOINT");
        foreach (var (name, kind, state, display) in rows)
        {
            sb.AppendLine($"{name.PadRight(w1)}  {kind.PadRight(w2)}  {state.PadRight(w3)}  {display}");
        }

        return sb.ToString();
    }

    public static int FreePortForTests() => FreePort();

    internal static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
