using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Helios.AppHost.Hosting;
using Xunit.Abstractions;

namespace Helios.AppHost.Tests.Hosting;

/// <summary>The AppHost as a user runs it: a real process, stopped with SIGTERM, started again on the same data.</summary>
public sealed class AppHostProcessTests(ITestOutputHelper output)
{
    private static readonly string[] Resources = ["postgres", "kafka", "api", "detector", "optimizer", "web", "otlp"];

    [Fact]
    public async Task RunAppHost_SigtermThenStartAgain_LeavesNoProcessAndKeepsData()
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "helios-apphost-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dataDirectory);
        var ports = Resources.ToDictionary(r => r, _ => DistributedApplication.FreePortForTests());
        try
        {
            var (first, firstChildren) = await RunUntilHealthyAsync(dataDirectory, ports);
            long firstModel;
            using (var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports["api"]}") })
            {
                firstModel = await WaitForModelVersionAsync(api);
            }

            var postmaster = ReadPostmasterPid(dataDirectory);
            Assert.True(postmaster > 0, "embedded PostgreSQL is running");
            await StopWithSigtermAsync(first);
            Assert.All(firstChildren.Append(postmaster), pid => Assert.False(IsAlive(pid), $"process {pid} survived the AppHost"));
            Assert.False(File.Exists(Path.Combine(dataDirectory, "postgres", "postmaster.pid")), "stale postmaster.pid left behind");

            // Warm start on the same data: PostgreSQL keeps the registry, so no second bootstrap model.
            var (second, _) = await RunUntilHealthyAsync(dataDirectory, ports);
            using (var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports["api"]}") })
            {
                Assert.Equal(firstModel, await WaitForModelVersionAsync(api));
            }

            await StopWithSigtermAsync(second);
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    private async Task<(Process Process, int[] Children)> RunUntilHealthyAsync(string dataDirectory, Dictionary<string, int> ports)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(typeof(DistributedApplication).Assembly.Location);
        info.Environment["AppHost__DataDirectory"] = dataDirectory;
        foreach (var (name, port) in ports)
        {
            info.Environment[$"AppHost__Ports__{name}"] = port.ToString(CultureInfo.InvariantCulture);
        }

        var process = Process.Start(info)!;
        var healthy = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var lines = new List<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (lines)
            {
                lines.Add(e.Data);
            }

            if (e.Data.StartsWith("All resources healthy", StringComparison.Ordinal))
            {
                healthy.TrySetResult(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (lines)
            {
                lines.Add(e.Data ?? "");
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            output.WriteLine(await healthy.Task.WaitAsync(TimeSpan.FromMinutes(3)));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            lock (lines)
            {
                // Per resource its own last lines: one resource's repeated failures must not hide why another never became healthy.
                var byResource = lines
                    .GroupBy(l => l.StartsWith('[') && l.IndexOf(']', StringComparison.Ordinal) is > 0 and var end ? l[..(end + 1)] : "[apphost]")
                    .Select(g => string.Join('\n', g.Where(l => !l.Contains("Health check", StringComparison.Ordinal)).TakeLast(25)));
                Assert.Fail("AppHost did not report healthy resources:\n" + string.Join("\n--\n", byResource) + "\n-- last lines:\n" + string.Join('\n', lines.TakeLast(20)));
            }
        }

        lock (lines)
        {
            Assert.Contains(lines, l => l.StartsWith("RESOURCE", StringComparison.Ordinal));
            foreach (var resource in (string[])["api", "detector", "optimizer", "web"])
            {
                Assert.Contains(lines, l => l.StartsWith(resource, StringComparison.Ordinal) && l.Contains("Healthy", StringComparison.Ordinal));
            }
        }

        return (process, ChildrenOf(process.Id));
    }

    private static async Task StopWithSigtermAsync(Process process)
    {
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.Equal(0, process.ExitCode);
    }

    private static async Task<long> WaitForModelVersionAsync(HttpClient api)
    {
        for (var i = 0; i < 120; i++)
        {
            using var response = await api.GetAsync("/api/v1/model/info");
            if (response.IsSuccessStatusCode)
            {
                return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetInt64();
            }

            await Task.Delay(500);
        }

        Assert.Fail("No active model reported by the API.");
        return 0;
    }

    private static int[] ChildrenOf(int parent) =>
        [.. Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && ParentOf(pid) == parent)];

    private static int ParentOf(int pid)
    {
        try
        {
            // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after the last ')'.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static int ReadPostmasterPid(string dataDirectory)
    {
        var file = Path.Combine(dataDirectory, "postgres", "postmaster.pid");
        return File.Exists(file) ? int.Parse(File.ReadLines(file).First(), CultureInfo.InvariantCulture) : 0;
    }
}
