using Helios.Core.Events;
using Helios.Core.Features;
using Helios.Core.Synthetic;

namespace Helios.Core.Tests.Features;

public sealed class WindowBatchTests
{
    [Fact]
    public void Extract_SyntheticDay_GivesTheStreamingWindowsRows()
    {
        var start = new DateTimeOffset(2026, 2, 2, 0, 0, 0, TimeSpan.Zero);
        var end = start.AddDays(1);
        var window = TimeSpan.FromMinutes(5);
        var streaming = SyntheticTraffic.TrainingWindows(start, end, window, 2.0, 9, 10, out var streamingRows);

        var services = SyntheticTraffic.Services.ToList();
        var events = SyntheticTraffic.Generate(start, end, 2.0, 9)
            .Select(e => new WindowEvent(e.Timestamp.UtcTicks, services.IndexOf(e.Service), e.Level, e.LatencyMs, e.Endpoint))
            .ToArray();
        var batch = WindowBatch.Extract(events, services.Count, window, 10, end.UtcTicks, out var batchRows);

        Assert.Equal(streamingRows, batchRows);
        Assert.True(batchRows > 8 * 200);
        Assert.Equal(Sorted(streaming), Sorted(batch));
    }

    [Fact]
    public void Extract_SmallAndUnfinishedWindows_AreLeftOut()
    {
        var minute = TimeSpan.TicksPerMinute;
        var events = new[]
        {
            new WindowEvent(0, 0, EventLevel.Info, 10, "/a"),
            new WindowEvent(minute, 0, EventLevel.Error, 30, "/b"),
            new WindowEvent(2 * minute, 1, EventLevel.Info, 5, "/a"), // one event: below minEvents
            new WindowEvent(6 * minute, 0, EventLevel.Info, 20, "/a"), // window 5..10 ends after endTicks
            new WindowEvent(7 * minute, 0, EventLevel.Info, 20, "/a"),
        };

        var rows = WindowBatch.Extract(events, 2, TimeSpan.FromMinutes(5), 2, 8 * minute, out var count);

        Assert.Equal(1, count);
        Assert.Equal([2, 0.5, 20, 29, 29.8, 10, 2], rows);
    }

    [Fact]
    public void Extract_OutOfOrderService_Throws()
    {
        var events = new[] { new WindowEvent(TimeSpan.TicksPerHour, 0, EventLevel.Info, 1, null), new WindowEvent(0, 0, EventLevel.Info, 1, null) };
        Assert.Throws<ArgumentException>(() => WindowBatch.Extract(events, 1, TimeSpan.FromMinutes(5), 1, long.MaxValue, out _));
    }

    private static List<string> Sorted(double[] rows) =>
        [.. rows.Chunk(EventWindowFeatures.Schema.Count).Select(r => string.Join(',', r.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))).Order(StringComparer.Ordinal)];
}
