using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Helios.AppHost.Hosting;

/// <summary>
/// A private PostgreSQL cluster run from the machine's server binaries (newest /usr/lib/postgresql/*/bin) on
/// 127.0.0.1:&lt;port&gt;. The data directory is initialised once and kept between runs. The server runs detached
/// (pg_ctl), so it survives this process unless <see cref="StopAsync"/> runs; the next start cleans up after a kill.
/// </summary>
public sealed class EmbeddedPostgres : IAsyncDisposable
{
    private const string SuperUser = "helios";
    private const string SuperUserPassword = "helios";
    private const string FallbackOsUser = "helios-pg";
    private static readonly string[] ServerTools = ["initdb", "pg_ctl", "postgres"];

    private readonly string _bin;
    private readonly string _data;
    private readonly string _socketDirectory;
    private readonly string _logFile;
    private readonly string? _runAs;
    private readonly ILogger _logger;
    private readonly Lazy<Task> _stop;
    private ServerCgroup? _memory;
    private ServerCgroup? _cpu;

    private EmbeddedPostgres(string bin, string data, string socketDirectory, string logFile, string? runAs, int port, ILogger logger)
    {
        (_bin, _data, _socketDirectory, _logFile, _runAs, Port, _logger) = (bin, data, socketDirectory, logFile, runAs, port, logger);
        _stop = new(StopCoreAsync);
    }

    /// <summary>
    /// The server's memory limit by default (its shared buffers, backends and the page cache of its files): see
    /// <see cref="StartAsync"/>.
    /// </summary>
    public const int DefaultMemoryLimitMiB = 2048;

    /// <summary>
    /// The CPU weight of the server's processes together by default, on cgroup v2's scale: a service's (systemd's
    /// CPUWeight default). See <see cref="StartAsync"/>.
    /// </summary>
    public const int DefaultCpuWeight = 100;

    /// <summary>The server's memory cgroup (cgroup v1 or v2), or null where it runs without a limit.</summary>
    public string? MemoryCgroupDirectory => _memory?.Directory;

    /// <summary>The server's CPU cgroup (see <see cref="StartAsync"/>), or null where it runs without one.</summary>
    public string? CpuCgroupDirectory => _cpu?.Directory;

    public int Port { get; }

    /// <summary>Whether the timescaledb extension can be created on this server (otherwise plain PostgreSQL fallbacks apply).</summary>
    public bool TimescaleAvailable { get; private set; }

    private string PidFile => Path.Combine(_data, "postmaster.pid");

    private string PgCtl => Path.Combine(_bin, "pg_ctl");

    /// <param name="dataDirectory">Kept between runs; the socket directory and postgres.log go next to it.</param>
    /// <param name="port">TCP port on 127.0.0.1; 0 picks a free one.</param>
    /// <param name="memoryLimitMiB">
    /// Where this process runs as root and may create a memory cgroup, the server runs in one limited to this (0: no
    /// limit), its files' page cache included. Without a limit, every page the server's files grow by takes a page of
    /// free memory, and a VM that hands freed memory back to its host at once (Firecracker's free page reporting, as
    /// here) pays a fault in the hypervisor for each: the kernel's copy into new page-cache pages was 29 % of all the
    /// machine's CPU samples while storing events. Within a limit the kernel reuses the pages it reclaims from the
    /// group's own cache (see README, "The seventh round").
    /// </param>
    /// <param name="cpuWeight">
    /// Where this process runs as root and may create a CPU cgroup, the server's processes share one with this weight
    /// (1 to 10,000, cgroup v2's scale), as they would in a systemd service. Without it, a kernel that groups tasks by
    /// session for the scheduler (autogroup, on by default in Debian's kernels where no cgroup says otherwise) counts
    /// each backend as a claim of its own, since PostgreSQL starts each in a new session: two busy COPY backends then
    /// weighed twice as much as the detector's whole process, and alerts waited for the CPU (see README, "The eleventh
    /// round"). A weight only matters while the CPU is contended.
    /// </param>
    public static async Task<EmbeddedPostgres> StartAsync(string dataDirectory, int port, ILogger logger, CancellationToken ct, int memoryLimitMiB = DefaultMemoryLimitMiB,
        int cpuWeight = DefaultCpuWeight)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cpuWeight, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cpuWeight, 10_000);
        var bin = FindBinDirectory();
        var data = Path.GetFullPath(dataDirectory);
        var parent = Path.GetDirectoryName(data)!;
        // Unix socket paths are limited to 107 bytes including ".s.PGSQL.<port>".
        var socketDirectory = Path.Combine(parent, "pg-socket");
        socketDirectory = socketDirectory.Length <= 85 ? socketDirectory : "/tmp";
        var logFile = Path.Combine(parent, "postgres.log");

        // postgres refuses to run as root.
        var runAs = Environment.IsPrivilegedProcess ? await EnsureOsUserAsync(ct) : null;
        Directory.CreateDirectory(data);
        Directory.CreateDirectory(socketDirectory);
        if (!File.Exists(logFile))
        {
            await File.WriteAllTextAsync(logFile, "", ct);
        }

        if (runAs is not null)
        {
            string[] owned = socketDirectory == "/tmp" ? [data, logFile] : [data, socketDirectory, logFile];
            await RunCheckedAsync(null, "chown", ["-R", $"{runAs}:", .. owned], ct);
            if ((await RunAsync(runAs, "test", ["-w", data], ct)).ExitCode != 0)
            {
                throw new InvalidOperationException(
                    $"The OS user '{runAs}' that runs PostgreSQL cannot reach {data}: make its parent directories traversable " +
                    "(chmod o+x) or move the data directory (setting AppHost:DataDirectory).");
            }
        }

        var server = new EmbeddedPostgres(bin, data, socketDirectory, logFile, runAs, port == 0 ? FreePort() : port, logger);
        await server.CleanUpAfterEarlierRunAsync(ct);
        EnsurePortFree(server.Port);
        if (memoryLimitMiB > 0)
        {
            server._memory = ServerCgroup.TryCreateMemory($"helios-postgres-{server.Port}", memoryLimitMiB * 1024L * 1024, out var whyNot);
            if (server._memory is null)
            {
                logger.LogInformation("PostgreSQL runs without a memory limit: {Reason}", whyNot);
            }
        }

        server._cpu = ServerCgroup.TryCreateCpu($"helios-postgres-{server.Port}", cpuWeight, out var noCpuGroup);
        if (server._cpu is null)
        {
            logger.LogInformation("PostgreSQL's processes are scheduled one by one: {Reason}", noCpuGroup);
        }

        try
        {
            await server.InitIfNeededAsync(ct);
            await server.StartServerAsync(ct);
        }
        catch
        {
            await server.StopAsync();
            throw;
        }

        logger.LogInformation(
            "PostgreSQL at 127.0.0.1:{Port} (data {Data}, log {Log}, socket {Socket}, OS user {User}, memory limit {Limit}, CPU weight {Weight}); TimescaleDB available: {Timescale}",
            server.Port, data, logFile, socketDirectory, runAs ?? Environment.UserName, server._memory is null ? "none" : $"{memoryLimitMiB} MiB",
            server._cpu is null ? "none (each process its own)" : cpuWeight, server.TimescaleAvailable);
        return server;
    }

    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = SuperUser,
        Password = SuperUserPassword,
        Database = database,
    }.ConnectionString;

    public async Task EnsureDatabaseAsync(string database, CancellationToken ct)
    {
        await using var connection = await OpenAdminConnectionAsync(ct);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection) { Parameters = { new() { Value = database } } };
        if (await exists.ExecuteScalarAsync(ct) is not null)
        {
            return;
        }

        try
        {
            // Identifiers cannot be parameters; quote it.
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
            await create.ExecuteNonQueryAsync(ct);
            _logger.LogInformation("PostgreSQL: database {Database} created", database);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DuplicateDatabase)
        {
            // Created concurrently: fine.
        }
    }

    /// <summary>pg_ctl stop -m fast, waiting until every server process has exited. Idempotent.</summary>
    public Task StopAsync() => _stop.Value;

    public ValueTask DisposeAsync() => new(StopAsync());

    private async Task StopCoreAsync()
    {
        if (File.Exists(PidFile))
        {
            var result = await RunAsync(_runAs, PgCtl, ["stop", "-D", _data, "-m", "fast", "-w", "-t", "60", "-s"], CancellationToken.None);
            if (result.ExitCode != 0 && File.Exists(PidFile))
            {
                _logger.LogWarning("PostgreSQL fast stop failed ({Output}); stopping it immediately", result.Output);
                await RunAsync(_runAs, PgCtl, ["stop", "-D", _data, "-m", "immediate", "-w", "-t", "30", "-s"], CancellationToken.None);
            }
        }

        await KillLeftoverProcessesAsync(TimeSpan.FromSeconds(5));
        if (_memory is not null)
        {
            // Read before either group goes: on cgroup v2 the memory and CPU groups are one directory.
            _logger.LogInformation("PostgreSQL at 127.0.0.1:{Port} stopped; its memory peaked at {Peak} MiB of its limit", Port, _memory.PeakBytes / (1024 * 1024));
            _memory.Delete();
        }
        else
        {
            _logger.LogInformation("PostgreSQL at 127.0.0.1:{Port} stopped", Port);
        }

        if (_cpu is not null && _cpu.Directory != _memory?.Directory)
        {
            _cpu.Delete();
        }
    }

    private async Task<NpgsqlConnection> OpenAdminConnectionAsync(CancellationToken ct)
    {
        // Unpooled: pooled connections would outlive a stop and fail on the next use.
        var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        try
        {
            await connection.OpenAsync(ct);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task InitIfNeededAsync(CancellationToken ct)
    {
        if (File.Exists(Path.Combine(_data, "PG_VERSION")))
        {
            return;
        }

        _logger.LogInformation("PostgreSQL: initialising a new cluster in {Data}", _data);
        // Must be readable by the server's OS user (the password is a well-known development one anyway).
        var passwordFile = Path.Combine(_socketDirectory, $".helios-pwfile-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(passwordFile, SuperUserPassword + "\n", ct);

        try
        {
            if (_runAs is not null)
            {
                await RunCheckedAsync(null, "chown", [$"{_runAs}:", passwordFile], ct);
            }

            // --no-sync only skips the fsync at the end of initdb; the running server keeps full durability.
            // Collation C: text keys (service names in every index) compare as bytes, which for UTF-8 is the same
            // order as C.UTF-8 gives, without a strcoll per comparison (about 2.5 % of the server's samples when storing events).
            await RunCheckedAsync(_runAs, Path.Combine(_bin, "initdb"),
                ["-D", _data, "-U", SuperUser, $"--pwfile={passwordFile}", "-E", "UTF8", "--locale=C.UTF-8", "--lc-collate=C",
                 "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--no-instructions"], ct);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    private async Task StartServerAsync(CancellationToken ct)
    {
        // wal_init_zero=off: a new 16 MB WAL segment is not first filled with zeros (PostgreSQL's zero-filling was 13.8 % of its
        // CPU while storing events, a fresh cluster creating segments as fast as COPY fills them); WAL is still written and
        // flushed at every commit, so durability is unchanged.
        var options = $"-h 127.0.0.1 -p {Port} -k {ShellQuote(_socketDirectory)} -c shared_buffers=512MB -c max_connections=200 -c wal_init_zero=off";
        // TimescaleDB must be preloaded before CREATE EXTENSION can work; only where the library is installed.
        if (File.Exists(Path.Combine(_bin, "..", "lib", "timescaledb.so")))
        {
            options += " -c shared_preload_libraries=timescaledb";
        }

        string[] start = ["start", "-D", _data, "-l", _logFile, "-w", "-t", "60", "-s", "-o", options];
        // In the cgroups: the shell joins them and becomes pg_ctl, whose postmaster and its children stay in them. A group
        // it cannot join ends it with 125 (pg_ctl never ran) and says which.
        string[] groups = [.. new[] { _memory, _cpu }.OfType<ServerCgroup>().Select(g => g.ProcsFile).Distinct()];
        var result = groups.Length == 0
            ? await RunAsync(_runAs, PgCtl, start, ct)
            : await RunAsync(null, "/bin/sh", ["-c", "n=$1; shift; while [ $n -gt 0 ]; do echo $$ > \"$1\" || { echo \"cannot join the cgroup of $1\" >&2; exit 125; }; shift; n=$((n - 1)); done; exec \"$@\"", "sh",
                groups.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), .. groups, .. _runAs is null ? [] : (string[])["runuser", "-u", _runAs, "--"], PgCtl, .. start], ct);
        if (result.ExitCode == 125)
        {
            throw new InvalidOperationException($"PostgreSQL did not start on port {Port}: {result.Output.Trim()}: the AppHost runs as root but may not move a process into that group here.");
        }

        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"PostgreSQL did not start on port {Port} (pg_ctl exit {result.ExitCode}): {result.Output}\nLast lines of {_logFile}:\n{LogTail()}");
        }

        // pg_ctl -w already waited for the postmaster; this proves a real authenticated connection works.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                await using var connection = await OpenAdminConnectionAsync(ct);
                await using var command = new NpgsqlCommand("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'", connection);
                TimescaleAvailable = await command.ExecuteScalarAsync(ct) is not null;
                return;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, ct);
            }
        }
    }

    /// <summary>
    /// After a kill: a postmaster.pid whose pid is no live postgres of this directory is deleted (postgres itself
    /// trusts any live pid, and pids get reused); a postmaster still running here is stopped; orphaned backends
    /// of a killed postmaster are waited for, then killed, as they would block the new server's shared memory.
    /// </summary>
    private async Task CleanUpAfterEarlierRunAsync(CancellationToken ct)
    {
        if (File.Exists(PidFile))
        {
            var lines = await File.ReadAllLinesAsync(PidFile, ct);
            if (lines.Length > 0 && int.TryParse(lines[0], out var pid) && IsPostgresOf(pid, _data))
            {
                _logger.LogWarning("PostgreSQL (pid {Pid}) left running on {Data} by an earlier run: stopping it", pid, _data);
                await RunCheckedAsync(_runAs, PgCtl, ["stop", "-D", _data, "-m", "fast", "-w", "-t", "60", "-s"], ct);
            }
            else
            {
                _logger.LogWarning("PostgreSQL: removing stale {PidFile} (its pid is not a running postgres)", PidFile);
                File.Delete(PidFile);
            }
        }

        await KillLeftoverProcessesAsync(TimeSpan.FromSeconds(10));
    }

    private async Task KillLeftoverProcessesAsync(TimeSpan grace)
    {
        var deadline = DateTime.UtcNow + grace;
        while (ProcessesOf(_data).ToList() is { Count: > 0 } leftovers)
        {
            if (DateTime.UtcNow >= deadline)
            {
                _logger.LogWarning("PostgreSQL: killing leftover server processes {Pids} of {Data}", leftovers, _data);
                foreach (var pid in leftovers)
                {
                    try
                    {
                        using var process = Process.GetProcessById(pid);
                        process.Kill();
                    }
                    catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                    {
                        // Already gone.
                    }
                }

                deadline = DateTime.UtcNow + grace;
            }

            await Task.Delay(100);
        }
    }

    // Every server process has the data directory as its working directory.
    private static IEnumerable<int> ProcessesOf(string data) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && IsPostgresOf(pid, data));

    private static bool IsPostgresOf(int pid, string data)
    {
        try
        {
            // /proc/<pid>/stat is "pid (comm) state ...". A zombie (Z) is dead: nothing may reap it here.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            var comm = stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..close];
            var state = stat[close + 2];
            return comm == "postgres" && state is not ('Z' or 'X')
                && string.Equals(new FileInfo($"/proc/{pid}/cwd").LinkTarget, data, StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
    }

    private static string FindBinDirectory()
    {
        const string root = "/usr/lib/postgresql";
        var bin = Directory.Exists(root)
            ? Directory.GetDirectories(root)
                .Where(d => int.TryParse(Path.GetFileName(d), out _))
                .OrderByDescending(d => int.Parse(Path.GetFileName(d)))
                .Select(d => Path.Combine(d, "bin"))
                .FirstOrDefault(b => ServerTools.All(t => File.Exists(Path.Combine(b, t))))
            : null;
        return bin ?? throw new InvalidOperationException(
            $"PostgreSQL server binaries not found ({root}/<version>/bin with initdb, pg_ctl and postgres): " +
            "install them with `apt-get install postgresql-15` (or another postgresql-<version>).");
    }

    private static async Task<string> EnsureOsUserAsync(CancellationToken ct)
    {
        foreach (var user in new[] { "postgres", FallbackOsUser })
        {
            if ((await RunAsync(null, "id", ["-u", user], ct)).ExitCode == 0)
            {
                return user;
            }
        }

        await RunCheckedAsync(null, "useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FallbackOsUser], ct);
        return FallbackOsUser;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void EnsurePortFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
        catch (SocketException ex)
        {
            throw new InvalidOperationException(
                $"Cannot start PostgreSQL: port {port} on 127.0.0.1 is already in use ({ex.SocketErrorCode}). Stop whatever " +
                "listens there or choose another port with the setting AppHost:Ports:<postgres resource> (environment AppHost__Ports__postgres=<port>).", ex);
        }
    }

    private string LogTail()
    {
        try
        {
            return string.Join('\n', File.ReadLines(_logFile).TakeLast(20));
        }
        catch (IOException ex)
        {
            return ex.Message;
        }
    }

    private static string ShellQuote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static async Task RunCheckedAsync(string? runAs, string file, IReadOnlyList<string> args, CancellationToken ct)
    {
        var result = await RunAsync(runAs, file, args, ct);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"`{file} {string.Join(' ', args)}` failed with exit code {result.ExitCode}: {result.Output}");
        }
    }

    /// <summary>Runs a tool, as <paramref name="runAs"/> through runuser when given; returns exit code and stdout+stderr.</summary>
    private static async Task<(int ExitCode, string Output)> RunAsync(string? runAs, string file, IReadOnlyList<string> args, CancellationToken ct)
    {
        // "/" as working directory: the server's OS user may not be allowed into ours.
        var start = new ProcessStartInfo(runAs is null ? file : "runuser")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        if (runAs is not null)
        {
            foreach (var arg in new[] { "-u", runAs, "--", file })
            {
                start.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, ((await stdout) + (await stderr)).Trim());
    }
}
