using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Helios.AppHost.Hosting;

/// <summary>
/// Runs one service as a child process from its build output, gates on its /health, and
/// restarts it with exponential backoff when it exits unexpectedly.
/// </summary>
internal sealed partial class ProjectRunner(ProjectResource resource, Func<IReadOnlyDictionary<string, string>> environment, ResourceLog log, ILogger logger)
{
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromMinutes(3);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(3) };
    private readonly CancellationTokenSource _stopping = new();
    private Process? _process;
    private Task? _supervisor;

    public Task StartAsync(CancellationToken ct)
    {
        var path = resource.Project.AssemblyPath;
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{resource.Name}' is not built: {path} is missing. Run `dotnet build Helios.sln` first.", path);
        }

        _supervisor = Task.Run(() => SuperviseAsync(path), CancellationToken.None);
        return resource.Healthy.Task.WaitAsync(StartupTimeout, ct).ContinueWith(t =>
        {
            if (t.IsFaulted || t.IsCanceled)
            {
                var tail = string.Join(Environment.NewLine, log.Tail(resource.Name, 40));
                throw new InvalidOperationException($"'{resource.Name}' did not become healthy on {resource.HttpEndpoint}health. Last output:{Environment.NewLine}{tail}", t.Exception?.InnerException);
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task SuperviseAsync(string path)
    {
        var backoff = TimeSpan.FromSeconds(1);
        while (!_stopping.IsCancellationRequested)
        {
            var started = Stopwatch.StartNew();
            using var process = Launch(path);
            _process = process;
            resource.ProcessId = process.Id;
            resource.State = resource.Restarts == 0 ? ResourceState.Starting : ResourceState.Restarting;
            var healthy = WaitHealthyAsync(process, _stopping.Token);
            await process.WaitForExitAsync(CancellationToken.None);
            await healthy;
            if (_stopping.IsCancellationRequested)
            {
                break;
            }

            // Crashed: restart with backoff, reset once it has stayed up a while.
            if (started.Elapsed > TimeSpan.FromMinutes(1))
            {
                backoff = TimeSpan.FromSeconds(1);
            }

            resource.Restarts++;
            resource.State = ResourceState.Restarting;
            logger.LogWarning("{Resource} exited with code {Code}; restart {Count} in {Delay:0.#} s", resource.Name, process.ExitCode, resource.Restarts, backoff.TotalSeconds);
            try
            {
                await Task.Delay(backoff, _stopping.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            backoff = TimeSpan.FromSeconds(Math.Min(backoff.TotalSeconds * 2, 30));
        }

        resource.State = ResourceState.Stopped;
    }

    private Process Launch(string path)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
            : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        var info = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(path)!,
        };
        info.ArgumentList.Add(path);
        foreach (var (key, value) in environment())
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => log.Write(resource.Name, e.Data);
        process.ErrorDataReceived += (_, e) => log.Write(resource.Name, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task WaitHealthyAsync(Process process, CancellationToken ct)
    {
        var health = new Uri(resource.HttpEndpoint, "/health");
        while (!process.HasExited && !ct.IsCancellationRequested)
        {
            try
            {
                using var response = await Http.GetAsync(health, ct);
                if (response.IsSuccessStatusCode)
                {
                    resource.State = ResourceState.Healthy;
                    resource.Healthy.TrySetResult();
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }

            try
            {
                await Task.Delay(250, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>SIGTERM, a grace period for a clean shutdown, then kill the whole tree.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        await _stopping.CancelAsync();
        if (_process is { } p)
        {
            try
            {
                if (!p.HasExited)
                {
                    _ = Kill(p.Id, 15);
                    using var timeout = new CancellationTokenSource(grace);
                    try
                    {
                        await p.WaitForExitAsync(timeout.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        logger.LogWarning("{Resource} did not stop within {Grace}; killing it", resource.Name, grace);
                        p.Kill(entireProcessTree: true);
                    }
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }

        if (_supervisor is not null)
        {
            await _supervisor;
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
