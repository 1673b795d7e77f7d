using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Helios.AppHost.Hosting;
using Helios.AppHost.Testing;
using Microsoft.Extensions.Logging;
using Npgsql;
using Xunit.Abstractions;

namespace Helios.AppHost.Tests.Hosting;

public sealed class ExternalModeTests(ITestOutputHelper output)
{
    private readonly ILogger _logger = new OutputLogger(output);

    /// <summary>The embedded database's CPU weight is a setting of the local stack: out of range, the AppHost says which and why, before starting anything.</summary>
    [Theory]
    [InlineData("0")]
    [InlineData("10001")]
    public async Task CreateAsync_PostgresCpuWeightOutOfRange_FailsNamingTheSetting(string weight)
    {
        var ex = await Record.ExceptionAsync(() => DistributedApplicationTestingBuilder.CreateAsync(args: [$"--AppHost:PostgresCpuWeight={weight}"]));

        var failure = ex is System.Reflection.TargetInvocationException { InnerException: { } inner } ? inner : ex;
        Assert.IsType<InvalidOperationException>(failure);
        Assert.Contains($"AppHost:PostgresCpuWeight must be a whole number from 1 to 10000 (100: a service's), not {weight}", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_ExternalConnectionStrings_StartsNoEmbeddedServersAndUsesThem()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var ct = timeout.Token;
        // Not CreateTempSubdirectory: its 0700 would lock out the server's OS user when the tests run as root.
        var root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"helios-external-test-{Guid.NewGuid():N}")).FullName;
        try
        {
            var postgres = await EmbeddedPostgres.StartAsync(Path.Combine(root, "data"), 0, _logger, ct);
            try
            {
                await postgres.EnsureDatabaseAsync("ext_helios", ct);
                var database = postgres.ConnectionString("ext_helios");
                using var broker = KafkaMockCluster.Start(0, _logger);
                // Before any client connects: the mock has no auto-create, and creating an existing topic throws.
                broker.CreateTopic("events", 8);
                broker.CreateTopic("anomaly-alerts", 4);
                broker.CreateTopic("events.dlq", 1);

                var app = await DistributedApplicationTestingBuilder.CreateAsync(
                    args: [$"--ConnectionStrings:helios={database}", $"--ConnectionStrings:kafka={broker.BootstrapServers}"], ct: ct);
                try
                {
                    await app.StartAsync(ct);

                    var server = Assert.IsType<PostgresServerResource>(app["postgres"]);
                    Assert.Null(server.Server);
                    Assert.Equal(ResourceState.External, server.State);
                    Assert.False(Directory.Exists(server.DataDirectory), $"embedded PostgreSQL data directory {server.DataDirectory} was created");
                    Assert.Equal(ResourceState.External, app["helios"].State);
                    var kafka = Assert.IsType<KafkaResource>(app["kafka"]);
                    Assert.Null(kafka.Cluster);
                    Assert.Equal(ResourceState.External, kafka.State);
                    Assert.Equal(database, app.GetConnectionString("helios"));
                    Assert.Equal(broker.BootstrapServers, app.GetConnectionString("kafka"));

                    using var api = app.CreateHttpClient("api");
                    using (var health = await api.GetAsync("/health", ct))
                    {
                        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
                    }

                    var version = await ActiveEventsModelVersionAsync(database, TimeSpan.FromSeconds(60), ct);
                    using var info = await api.GetAsync("/api/v1/model/info", ct);
                    Assert.Equal(HttpStatusCode.OK, info.StatusCode);
                    var body = await info.Content.ReadFromJsonAsync<JsonElement>(ct);
                    Assert.Equal(version, body.GetProperty("version").GetInt64());
                }
                finally
                {
                    await app.DisposeAsync();
                }
            }
            finally
            {
                await postgres.StopAsync();
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Polls the external database itself (not through the services) until the bootstrap events model is active.</summary>
    private static async Task<long> ActiveEventsModelVersionAsync(string connectionString, TimeSpan wait, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            try
            {
                // Unpooled: a pooled connection would outlive the server stopped at the end of the test.
                await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
                await connection.OpenAsync(ct);
                await using var command = new NpgsqlCommand("SELECT version FROM models WHERE kind = 'events' AND is_active", connection);
                if (await command.ExecuteScalarAsync(ct) is long version)
                {
                    return version;
                }
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
            {
                // Migrations not applied yet.
            }

            Assert.True(DateTime.UtcNow < deadline, $"no active events model appeared in the external database's models table within {wait.TotalSeconds:0} s");
            await Task.Delay(500, ct);
        }
    }

    private sealed class OutputLogger(ITestOutputHelper output) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            output.WriteLine($"{logLevel}: {formatter(state, exception)} {exception}");
    }
}
