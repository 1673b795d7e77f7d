using Helios.Core.Events;
using Helios.Core.Features;
using Helios.Core.Synthetic;
using Helios.Core.Windows;

namespace Helios.Core.Tests.Features;

public sealed class WindowBatchTests
{
    private static readonly string[] TwoServices = ["a", "b"];

    [Fact]
    public void Windows_SyntheticDay_AreTheStreamingWindows()
    {
        var start = new DateTimeOffset(2026, 2, 2, 0, 0, 0, TimeSpan.Zero);
        var end = start.AddDays(1);
        var window = TimeSpan.FromMinutes(5);
        var streaming = SyntheticTraffic.Windows(SyntheticTraffic.Generate(start, end, 2.0, 9), window, end);

        var services = SyntheticTraffic.Services.ToList();
        var events = SyntheticTraffic.Generate(start, end, 2.0, 9)
            .Select(e => new WindowEvent(e.Timestamp.UtcTicks, services.IndexOf(e.Service), e.Level, e.LatencyMs, e.Endpoint))
            .ToArray();
        var batch = WindowBatch.Windows(events, [.. services.Select(s => s.Name)], window, end.UtcTicks);

        Assert.True(batch.Count > 8 * 250);
        Assert.Equal(Describe(streaming), Describe(batch));
    }

    [Fact]
    public void Windows_UnfinishedWindow_IsLeftOut()
    {
        var minute = TimeSpan.TicksPerMinute;
        var events = new[]
        {
            new WindowEvent(0, 0, EventLevel.Info, 10, "/a"),
            new WindowEvent(minute, 0, EventLevel.Error, 30, "/b"),
            new WindowEvent(2 * minute, 1, EventLevel.Info, 5, "/a"),
            new WindowEvent(6 * minute, 0, EventLevel.Info, 20, "/a"), // window 5..10 ends after endTicks
        };

        var windows = WindowBatch.Windows(events, TwoServices, TimeSpan.FromMinutes(5), 8 * minute);

        Assert.Equal(["a", "b"], windows.Select(w => w.Service));
        Assert.Equal([2, 0.5, 20, 29, 29.8, 10, 2], windows[0].Events.ToFeatures());
        Assert.Equal(TimeSpan.FromMinutes(5), windows[1].End - windows[1].Start);
    }

    [Fact]
    public void Windows_OutOfOrderService_Throws()
    {
        var events = new[] { new WindowEvent(TimeSpan.TicksPerHour, 0, EventLevel.Info, 1, null), new WindowEvent(0, 0, EventLevel.Info, 1, null) };
        Assert.Throws<ArgumentException>(() => WindowBatch.Windows(events, ["a"], TimeSpan.FromMinutes(5), long.MaxValue));
    }

    private static List<string> Describe(IEnumerable<ClosedWindow> windows) =>
        [.. windows.Select(w => $"{w.Service}|{w.Start:O}|" + string.Join(',', w.Events.ToFeatures().Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))))
            .Order(StringComparer.Ordinal)];
}
