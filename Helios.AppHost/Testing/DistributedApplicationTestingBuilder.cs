using Helios.AppHost.Hosting;

namespace Helios.AppHost.Testing;

/// <summary>
/// The counterpart of Aspire.Hosting.Testing: runs the AppHost's own Program (the same graph)
/// with every port free and data in a temporary folder, and hands the built application to the test.
/// </summary>
public static class DistributedApplicationTestingBuilder
{
    private static readonly SemaphoreSlim EntryPointGate = new(1, 1);

    /// <param name="args">Passed to the AppHost's Program as command-line configuration, e.g. "--ConnectionStrings:helios=...".</param>
    public static async Task<DistributedApplication> CreateAsync(Action<DistributedApplicationBuilder>? configure = null, string[]? args = null, CancellationToken ct = default)
    {
        await EntryPointGate.WaitAsync(ct);
        try
        {
            var context = new TestingContext(Path.Combine(Path.GetTempPath(), "helios-test-" + Guid.NewGuid().ToString("N")[..12]), configure);
            TestingContext.Current = context;
            var entryPoint = typeof(Projects).Assembly.EntryPoint ?? throw new InvalidOperationException("Helios.AppHost has no entry point.");
            var result = entryPoint.Invoke(null, entryPoint.GetParameters().Length == 0 ? [] : [args ?? []]);
            if (result is Task task)
            {
                await task;
            }

            return context.Application ?? throw new InvalidOperationException("Helios.AppHost's Program did not build and run an application.");
        }
        finally
        {
            TestingContext.Current = null;
            EntryPointGate.Release();
        }
    }
}

public sealed class TestingContext(string dataDirectory, Action<DistributedApplicationBuilder>? configure)
{
    private static readonly AsyncLocal<TestingContext?> CurrentContext = new();

    public static TestingContext? Current
    {
        get => CurrentContext.Value;
        internal set => CurrentContext.Value = value;
    }

    public string DataDirectory { get; } = dataDirectory;

    public Action<DistributedApplicationBuilder>? Configure { get; } = configure;

    internal DistributedApplication? Application { get; private set; }

    internal void Capture(DistributedApplication app) => Application = app;

    internal void Cleanup()
    {
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
