using System.Globalization;
using System.Text.RegularExpressions;
using Helios.AppHost.Hosting;
using Helios.AppHost.Testing;

namespace Helios.AppHost.Tests.EndToEnd;

/// <summary>The whole stack, started once for the end-to-end tests through the testing entry point.</summary>
public sealed partial class StackFixture : IAsyncLifetime
{
    private static readonly DateTimeOffset FirstDay = new(2026, 3, 2, 8, 0, 0, TimeSpan.Zero);
    private int _days;

    public DistributedApplication App { get; private set; } = null!;

    public HttpClient Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        App = await DistributedApplicationTestingBuilder.CreateAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await App.StartAsync(timeout.Token);
        Api = App.CreateHttpClient("api");
    }

    public async Task DisposeAsync()
    {
        Api?.Dispose();
        if (App is not null)
        {
            await App.DisposeAsync();
        }
    }

    /// <summary>
    /// An event-time start (08:00 UTC) on a day no other test has: the detector's watermark only
    /// moves forward, so tests sharing the stack must each send later event times than the last.
    /// </summary>
    public DateTimeOffset ReserveStart() => FirstDay.AddDays(Interlocked.Increment(ref _days));

    /// <summary>Reads one sample from a service's /metrics (sum over label sets).</summary>
    public async Task<double> MetricAsync(string resource, string name)
    {
        using var client = App.CreateHttpClient(resource);
        var text = await client.GetStringAsync("/metrics");
        return MetricLine().Matches(text).Where(m => m.Groups["name"].Value == name)
            .Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex MetricLine();
}

[CollectionDefinition(Name)]
public sealed class StackCollection : ICollectionFixture<StackFixture>
{
    public const string Name = "stack";
}
