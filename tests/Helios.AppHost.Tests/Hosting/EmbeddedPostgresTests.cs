using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Helios.AppHost.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Xunit.Abstractions;

namespace Helios.AppHost.Tests.Hosting;

public sealed class EmbeddedPostgresTests : IAsyncLifetime
{
    private readonly ILogger _logger;
    private readonly string _root;
    private readonly List<EmbeddedPostgres> _servers = [];

    public EmbeddedPostgresTests(ITestOutputHelper output)
    {
        _logger = new OutputLogger(output);
        // Not CreateTempSubdirectory: its 0700 would lock out the server's OS user when the tests run as root.
        _root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"helios-pg-test-{Guid.NewGuid():N}")).FullName;
    }

    private string DataDirectory => Path.Combine(_root, "data");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var server in Enumerable.Reverse(_servers))
        {
            await server.StopAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task StartAsync_FreshDirectory_ServesEnsuredDatabase()
    {
        var server = await StartAsync();

        await server.EnsureDatabaseAsync("helios", CancellationToken.None);
        await server.EnsureDatabaseAsync("helios", CancellationToken.None);

        Assert.Equal($"Host=127.0.0.1;Port={server.Port};Username=helios;Password=helios;Database=helios", server.ConnectionString("helios"));
        Assert.Equal("helios|helios|127.0.0.1", await QueryAsync(server, "SELECT current_database() || '|' || current_user || '|' || current_setting('listen_addresses')"));
        var timescale = await QueryAsync(server, "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')::text");
        Assert.Equal(timescale == "true", server.TimescaleAvailable);
        Assert.True(File.Exists(Path.Combine(_root, "postgres.log")));
    }

    [Fact]
    public async Task StartAsync_AfterStop_KeepsData()
    {
        var first = await StartAsync();
        await first.EnsureDatabaseAsync("helios", CancellationToken.None);
        await QueryAsync(first, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives'); SELECT 'ok'");

        await first.StopAsync();
        await first.StopAsync();
        Assert.False(File.Exists(Path.Combine(DataDirectory, "postmaster.pid")));

        var second = await StartAsync();
        Assert.Equal("survives", await QueryAsync(second, "SELECT v FROM kept"));
    }

    [Fact]
    public async Task StartAsync_AfterPostmasterKilled_RecoversAndKeepsData()
    {
        var first = await StartAsync();
        await first.EnsureDatabaseAsync("helios", CancellationToken.None);
        await QueryAsync(first, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives'); SELECT 'ok'");
        var pid = int.Parse(File.ReadLines(Path.Combine(DataDirectory, "postmaster.pid")).First());

        using (var postmaster = Process.GetProcessById(pid))
        {
            postmaster.Kill(); // SIGKILL
        }

        Assert.True(SpinWait.SpinUntil(() => !IsRunning(pid), TimeSpan.FromSeconds(10)));

        var second = await StartAsync();
        Assert.Equal("survives", await QueryAsync(second, "SELECT v FROM kept"));
        Assert.NotEqual(pid, int.Parse(File.ReadLines(Path.Combine(DataDirectory, "postmaster.pid")).First()));
    }

    [Fact]
    public async Task StartAsync_ServerLeftRunning_StopsItAndStarts()
    {
        await StartAsync();
        var orphan = int.Parse(File.ReadLines(Path.Combine(DataDirectory, "postmaster.pid")).First());

        var second = await StartAsync();

        Assert.False(IsRunning(orphan));
        await second.EnsureDatabaseAsync("helios", CancellationToken.None);
        Assert.Equal("1", await QueryAsync(second, "SELECT '1'"));
    }

    /// <summary>
    /// Run as root (as CI runs the suite), the server runs in a memory cgroup of its own with the limit asked for, and in
    /// a CPU cgroup of its own with the weight asked for (its backends one claim on the CPU, not one each): the
    /// postmaster and a backend it forks later are in both; stopping removes them. Elsewhere it runs without either.
    /// </summary>
    [Fact]
    public async Task StartAsync_AsRoot_ServerAndItsBackendsRunInAMemoryLimitedAndACpuCgroup_RemovedOnStop()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var server = await EmbeddedPostgres.StartAsync(DataDirectory, 0, _logger, timeout.Token, memoryLimitMiB: 1500, cpuWeight: 50);
        _servers.Add(server);
        if (!Environment.IsPrivilegedProcess)
        {
            Assert.Null(server.MemoryCgroupDirectory);
            Assert.Null(server.CpuCgroupDirectory);
            return;
        }

        var memory = server.MemoryCgroupDirectory!;
        var cpu = server.CpuCgroupDirectory!;
        Assert.EndsWith($"/helios-postgres-{server.Port}", memory, StringComparison.Ordinal);
        Assert.EndsWith($"/helios-postgres-{server.Port}", cpu, StringComparison.Ordinal);
        var limit = File.Exists(Path.Combine(memory, "memory.max")) ? "memory.max" : "memory.limit_in_bytes";
        Assert.Equal((1500L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(memory, limit)).Trim());
        var weight = File.Exists(Path.Combine(cpu, "cpu.weight")) ? ("cpu.weight", "50") : ("cpu.shares", "512"); // v1: x 10.24
        Assert.Equal(weight.Item2, File.ReadAllText(Path.Combine(cpu, weight.Item1)).Trim());
        await server.EnsureDatabaseAsync("helios", CancellationToken.None);

        // The backend is read while its connection is open: once it closes, the backend exits.
        await using (var connection = new NpgsqlConnection(server.ConnectionString("helios") + ";Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT pg_backend_pid()::text", connection);
            var backend = (string?)await command.ExecuteScalarAsync();
            var postmaster = File.ReadLines(Path.Combine(DataDirectory, "postmaster.pid")).First();
            foreach (var group in (string[])[memory, cpu])
            {
                var members = File.ReadAllLines(Path.Combine(group, "cgroup.procs"));
                Assert.Contains(postmaster, members);
                Assert.Contains(backend, members);
            }
        }

        await server.StopAsync();
        Assert.False(Directory.Exists(memory), "the memory group is removed with the server");
        Assert.False(Directory.Exists(cpu), "the CPU group is removed with the server");
    }

    [Fact]
    public async Task StartAsync_PortInUse_ThrowsNamingPort()
    {
        using var blocker = new TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        var port = ((IPEndPoint)blocker.LocalEndpoint).Port;

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => EmbeddedPostgres.StartAsync(DataDirectory, port, _logger, CancellationToken.None));

        Assert.Contains($"port {port}", ex.Message, StringComparison.Ordinal);
    }

    private async Task<EmbeddedPostgres> StartAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var server = await EmbeddedPostgres.StartAsync(DataDirectory, 0, _logger, timeout.Token);
        _servers.Add(server);
        return server;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            // "pid (comm) state ...": a zombie has exited, it only waits to be reaped.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static async Task<string?> QueryAsync(EmbeddedPostgres server, string sql)
    {
        // Unpooled: a pooled connection would outlive the server between restarts.
        await using var connection = new NpgsqlConnection(server.ConnectionString("helios") + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (string?)await command.ExecuteScalarAsync();
    }

    private sealed class OutputLogger(ITestOutputHelper output) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            output.WriteLine($"{logLevel}: {formatter(state, exception)} {exception}");
    }
}
