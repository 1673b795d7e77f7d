using Helios.Core.Events;
using Helios.Core.Features;
using Helios.Core.Windows;

namespace Helios.Core.Tests.Windows;

public class EventTimeWindowsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);

    private static TelemetryEvent At(DateTimeOffset t, string service = "a") => new(t, service, EventLevel.Info, "", null, null, null);

    [Fact]
    public void DrainClosed_WindowClosesOnlyWhenWatermarkPassesItsEnd()
    {
        var w = new EventTimeWindows(TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(30));
        w.Add(At(T0.AddMinutes(1)));
        w.Add(At(T0.AddMinutes(1), "b"));
        w.Add(At(T0.AddMinutes(5).AddSeconds(29)));
        Assert.Empty(w.DrainClosed());
        w.Add(At(T0.AddMinutes(5).AddSeconds(30)));
        var closed = w.DrainClosed();
        Assert.Equal(2, closed.Count);
        Assert.All(closed, c => Assert.Equal(T0, c.Start));
        Assert.Equal(["a", "b"], closed.Select(c => c.Service));
        Assert.Equal(T0.AddMinutes(5), closed[0].End);
    }

    /// <summary>The detector drains into one list it reuses: the windows are appended after what it holds, oldest first, and counted.</summary>
    [Fact]
    public void DrainClosed_IntoAList_AppendsTheClosedWindowsOldestFirstAndCountsThem()
    {
        var w = new EventTimeWindows(TimeSpan.FromMinutes(1), TimeSpan.Zero);
        var kept = new ClosedWindow("earlier", T0.AddMinutes(-9), T0.AddMinutes(-8), new WindowAccumulator());
        var into = new List<ClosedWindow> { kept };
        w.Add(At(T0.AddSeconds(1), "d"));
        w.Add(At(T0.AddSeconds(2), "b"));
        Assert.Equal(0, w.DrainClosed(into));
        w.Add(At(T0.AddMinutes(1).AddSeconds(1), "c"));
        w.Add(At(T0.AddMinutes(1).AddSeconds(2), "a"));
        w.Add(At(T0.AddMinutes(2).AddSeconds(1), "b"));

        Assert.Equal(4, w.DrainClosed(into));
        Assert.Equal(kept, into[0]);
        Assert.Equal([("b", 0), ("d", 0), ("a", 1), ("c", 1)], into.Skip(1).Select(c => (c.Service, (int)(c.Start - T0).TotalMinutes)));
        Assert.All(into.Skip(1), c => Assert.Equal(1, c.Events.Count));
        Assert.Equal(1, w.OpenWindows); // b's third minute
        Assert.Equal(0, w.DrainClosed(into));
        Assert.Equal(5, into.Count);
    }

    /// <summary>
    /// The detector drains after every event, and the watermarks are only passed over when the clock moved or an event
    /// may cross a window end: with the clock standing still, each window must still close at the first event that
    /// carries its source's watermark past its end, and a quiet source's windows with it, and an event for a closed
    /// window must still be late.
    /// </summary>
    [Fact]
    public void DrainClosed_AfterEveryEventWithAStillClock_ClosesAtTheCrossingEventAndQuietSourcesFollow()
    {
        var w = new EventTimeWindows(TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30));
        var start = T0.UtcTicks;
        IReadOnlyList<ClosedWindow> Add(DateTimeOffset at, string service, int source, long now)
        {
            Assert.True(w.Add(EventFields.From(At(at, service)), source, now, out _));
            return w.DrainClosed(new DateTimeOffset(now, TimeSpan.Zero));
        }

        Assert.Empty(Add(T0.AddSeconds(10), "a", 0, start));
        Assert.Empty(Add(T0.AddSeconds(20), "b", 1, start));

        // 31 s later source 1 has gone quiet; from here the clock stands still.
        var still = start + TimeSpan.FromSeconds(31).Ticks;
        Assert.Empty(Add(T0.AddSeconds(40), "a", 0, still));
        for (var s = 41; s < 65; s++)
        {
            Assert.Empty(Add(T0.AddSeconds(s), "a", 0, still));
        }

        // 1:05 puts source 0's watermark on 1:00: both first windows close, source 1's with the newest event of all.
        var closed = Add(T0.AddSeconds(65), "a", 0, still);
        Assert.Equal([("a", T0), ("b", T0)], closed.Select(c => (c.Service, c.Start)));
        Assert.False(w.Add(EventFields.From(At(T0.AddSeconds(50), "b")), 1, still, out _));
        Assert.Equal(1, w.LateEvents);

        for (var s = 66; s < 125; s++)
        {
            Assert.Empty(Add(T0.AddSeconds(s), "a", 0, still));
        }

        Assert.Equal([("a", T0.AddMinutes(1))], Add(T0.AddSeconds(125), "a", 0, still).Select(c => (c.Service, c.Start)));
    }

    [Fact]
    public void Add_TellsWhenAnEventMayBeItsWindowsFirstFromItsSource()
    {
        var w = new EventTimeWindows(TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(30));
        var now = T0.UtcTicks;
        Assert.True(w.Add(EventFields.From(At(T0.AddMinutes(1))), 0, now, out var first) && first);
        Assert.True(w.Add(EventFields.From(At(T0.AddMinutes(2))), 0, now, out first) && !first);
        Assert.True(w.Add(EventFields.From(At(T0.AddMinutes(2), "b")), 0, now, out first) && first);
        Assert.True(w.Add(EventFields.From(At(T0.AddMinutes(6))), 0, now, out first) && first);

        // Another source feeding a window it did not open: each of its events says so (the caller keeps the lowest offset).
        Assert.True(w.Add(EventFields.From(At(T0.AddMinutes(3))), 1, now, out first) && first);
        Assert.True(w.Add(EventFields.From(At(T0.AddMinutes(4))), 1, now, out first) && first);
    }

    /// <summary>
    /// The detector passes each service's hint (kept with the service) to every add. Fed the same random stream (three
    /// services on two sources, out of order within the lateness, with late events, drains and recycling between), the
    /// hinted windows must close with exactly the counts, errors, latencies and first-from-source answers of the
    /// lookups alone, and a hint must never send an event to a window that closed, was recycled into another service's
    /// window, or belongs to another service.
    /// </summary>
    [Fact]
    public void Add_WithHints_ClosesTheSameWindowsAsWithout()
    {
        var size = TimeSpan.FromSeconds(10);
        var plain = new EventTimeWindows(size, TimeSpan.FromSeconds(5));
        var hinted = new EventTimeWindows(size, TimeSpan.FromSeconds(5));
        var hints = new Dictionary<string, OpenWindowHint>();
        var rng = new Random(21);
        var now = T0.UtcTicks;
        var plainClosed = new List<string>();
        var hintedClosed = new List<string>();
        static string Describe(ClosedWindow c) =>
            $"{c.Service} {c.Start:O} {c.Events.Count} {c.Events.Errors} {c.Events.UniqueEndpoints} {string.Join(',', EventWindowFeatures.For(c, null).Select(f => f.ToString("R")))}";

        for (var i = 0; i < 20_000; i++)
        {
            var service = "svc-" + rng.Next(3);
            var source = service == "svc-2" ? 1 : 0;
            var at = T0.AddMilliseconds((i * 50) - rng.Next(8_000));
            var evt = new EventFields(at.UtcTicks, service, rng.Next(10) == 0 ? EventLevel.Error : EventLevel.Info, 5 + rng.Next(200), "/e" + rng.Next(4));
            var hint = hints.GetValueOrDefault(service);
            var addedPlain = plain.Add(evt, source, now, out var firstPlain);
            var addedHinted = hinted.Add(evt, source, now, ref hint, out var firstHinted);
            hints[service] = hint;
            Assert.Equal((addedPlain, firstPlain), (addedHinted, firstHinted));
            if (i % 97 == 0)
            {
                var a = plain.DrainClosed(new DateTimeOffset(now, TimeSpan.Zero));
                var b = hinted.DrainClosed(new DateTimeOffset(now, TimeSpan.Zero));
                plainClosed.AddRange(a.Select(Describe));
                hintedClosed.AddRange(b.Select(Describe));
                plain.Recycle(a);
                hinted.Recycle(b);
            }
        }

        Assert.True(plainClosed.Count > 100);
        Assert.Equal(plainClosed, hintedClosed);
        Assert.True(plain.LateEvents > 0);
        Assert.Equal(plain.LateEvents, hinted.LateEvents);
    }

    [Fact]
    public void Add_HintOfAnotherServiceOrAClosedWindowIsNotUsed()
    {
        var w = new EventTimeWindows(TimeSpan.FromMinutes(1), TimeSpan.Zero);
        var now = T0.UtcTicks;
        w.AddSource(1, T0);
        var a = default(OpenWindowHint);
        Assert.True(w.Add(EventFields.From(At(T0.AddSeconds(1), "a")), 0, now, ref a, out _));

        // a's hint passed with b's event: b opens its own window.
        var hint = a;
        Assert.True(w.Add(EventFields.From(At(T0.AddSeconds(2), "b")), 0, now, ref hint, out var first) && first);
        Assert.Equal(2, w.OpenWindows);

        // Source 0's watermark passes 1:00 and closes both (source 1, behind, opened neither); their accumulators go back.
        Assert.True(w.Add(EventFields.From(At(T0.AddSeconds(61), "c")), 0, now, out _));
        var closed = w.DrainClosed(new DateTimeOffset(now, TimeSpan.Zero));
        Assert.Equal([("a", 1), ("b", 1)], closed.Select(c => (c.Service, c.Events.Count)));
        w.Recycle(closed);

        // Both accumulators now serve other windows. An event of a's closed window from source 1 (its watermark behind,
        // so not late there) opens a window anew, as without the hint, rather than adding to a recycled accumulator.
        Assert.True(w.Add(EventFields.From(At(T0.AddSeconds(62), "d")), 0, now, out _));
        Assert.True(w.Add(EventFields.From(At(T0.AddSeconds(63), "e")), 0, now, out _));
        Assert.True(w.Add(EventFields.From(At(T0.AddSeconds(5), "a")), 1, now, ref a, out first) && first);
        Assert.True(w.Add(EventFields.From(At(T0.AddSeconds(121), "c")), 0, now, out _));
        Assert.True(w.Add(EventFields.From(At(T0.AddSeconds(61), "z")), 1, now, out _));
        closed = w.DrainClosed(new DateTimeOffset(now, TimeSpan.Zero));
        Assert.Equal([("a", T0, 1), ("c", T0.AddMinutes(1), 1), ("d", T0.AddMinutes(1), 1), ("e", T0.AddMinutes(1), 1)],
            closed.Select(c => (c.Service, c.Start, c.Events.Count)));
    }

    [Fact]
    public void Recycle_ReusedAccumulatorGivesTheFeaturesOfAFreshOne()
    {
        var w = new EventTimeWindows(TimeSpan.FromMinutes(1), TimeSpan.Zero);
        var rng = new Random(8);
        TelemetryEvent Event(DateTimeOffset t, int i) =>
            new(t, "a", i % 3 == 0 ? EventLevel.Error : EventLevel.Info, "", null, null, null) { LatencyMs = rng.Next(1, 900), Endpoint = $"/e{i % 4}" };

        // A busy first window (its digest grows), then a quiet one built in the recycled accumulator.
        for (var i = 0; i < 500; i++)
        {
            w.Add(Event(T0.AddMilliseconds(i * 100), i));
        }

        w.Add(At(T0.AddMinutes(1), "b")); // moves the watermark: closes a's window
        var first = w.DrainClosed().Single();
        var firstEvents = first.Events;
        w.Recycle([first]);

        var second = new List<TelemetryEvent>();
        for (var i = 0; i < 7; i++)
        {
            second.Add(Event(T0.AddMinutes(1).AddSeconds(i + 1), i));
            w.Add(second[^1]);
        }

        w.Add(At(T0.AddMinutes(2), "b"));
        var closed = w.DrainClosed().Single(c => c.Service == "a");
        Assert.Same(firstEvents, closed.Events);
        var fresh = new Helios.Core.Features.WindowAccumulator();
        second.ForEach(e => fresh.Add(e.Level, e.LatencyMs, e.Endpoint));
        Assert.Equal(fresh.ToFeatures(), closed.Events.ToFeatures());
    }

    [Fact]
    public void Add_EventForClosedWindow_IsCountedLate()
    {
        var w = new EventTimeWindows(TimeSpan.FromMinutes(5), TimeSpan.Zero);
        w.Add(At(T0.AddMinutes(1)));
        w.Add(At(T0.AddMinutes(11)));
        Assert.Single(w.DrainClosed());
        Assert.False(w.Add(At(T0.AddMinutes(2))));
        Assert.Equal(1, w.LateEvents);
        Assert.True(w.Add(At(T0.AddMinutes(10).AddSeconds(1))), "an event in a still-open window is on time even if older than the newest");
    }

    [Fact]
    public void DrainClosed_PartitionReadAhead_DoesNotMakeOtherPartitionsLate()
    {
        var w = new EventTimeWindows(TimeSpan.FromMinutes(5), TimeSpan.Zero);
        var now = T0;
        w.AddSource(0, now);
        w.AddSource(1, now);
        w.Add(At(T0.AddMinutes(1), "a"), source: 0, now);
        w.Add(At(T0.AddMinutes(16), "a"), source: 0, now);
        Assert.DoesNotContain(w.DrainClosed(now), c => c.Service == "b");
        Assert.True(w.Add(At(T0.AddMinutes(2), "b"), source: 1, now), "partition 1 is behind, not late");
        Assert.DoesNotContain(w.DrainClosed(now), c => c.Service == "b");
        w.Add(At(T0.AddMinutes(16), "b"), source: 1, now);
        var closed = w.DrainClosed(now);
        Assert.Contains(closed, c => c.Service == "b" && c.Start == T0);
        Assert.Equal(0, w.LateEvents);
    }

    [Fact]
    public void DrainClosed_SourceBehindTheOthers_WaitsForItsOwnEventsUntilIdle()
    {
        var w = new EventTimeWindows(TimeSpan.FromMinutes(5), TimeSpan.Zero, idleTimeout: TimeSpan.FromSeconds(30));
        w.AddSource(0, T0);
        w.AddSource(1, T0);
        w.Add(At(T0.AddMinutes(1), "a"), source: 0, T0);
        w.Add(At(T0.AddMinutes(12), "b"), source: 1, T0);
        Assert.Empty(w.DrainClosed(T0.AddSeconds(10)));
        // A slow producer, not a finished one: more of a's window may still come.
        Assert.True(w.Add(At(T0.AddMinutes(2), "a"), source: 0, T0.AddSeconds(10)));
        var closed = Assert.Single(w.DrainClosed(T0.AddSeconds(41)));
        Assert.Equal(("a", 2), (closed.Service, closed.Events.Count));
        Assert.Equal(T0.AddMinutes(12), w.Watermark);
    }

    [Fact]
    public void DrainClosed_AllSourcesIdle_FlushesWithTheLargestWatermark()
    {
        var w = new EventTimeWindows(TimeSpan.FromMinutes(5), TimeSpan.Zero, idleTimeout: TimeSpan.FromSeconds(10));
        w.Add(At(T0.AddMinutes(1), "a"), source: 0, T0);
        w.Add(At(T0.AddMinutes(6), "b"), source: 1, T0);
        Assert.Empty(w.DrainClosed(T0));
        var closed = w.DrainClosed(T0.AddSeconds(11));
        Assert.Single(closed);
        Assert.Equal("a", closed[0].Service);
    }

    [Fact]
    public void Add_OutOfOrderWithinLateness_LandsInItsWindow()
    {
        var w = new EventTimeWindows(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(1));
        w.Add(At(T0.AddMinutes(5).AddSeconds(30)));
        Assert.True(w.Add(At(T0.AddMinutes(4))));
        w.Add(At(T0.AddMinutes(7)));
        var closed = w.DrainClosed();
        Assert.Single(closed);
        Assert.Equal(1, closed[0].Events.Count);
    }

    [Fact]
    public void RemoveSource_RevokedPartition_DropsTheWindowsItOpened()
    {
        var w = new EventTimeWindows(TimeSpan.FromMinutes(5), TimeSpan.Zero);
        w.Add(At(T0.AddMinutes(1), "a"), source: 0);
        w.Add(At(T0.AddMinutes(1), "b"), source: 1);
        w.RemoveSource(0);
        Assert.Equal(1, w.OpenWindows);
        w.Add(At(T0.AddMinutes(6), "b"), source: 1);
        Assert.Equal(["b"], w.DrainClosed().Select(c => c.Service));
    }

    [Fact]
    public void Add_PartitionAssignedAfterOthersMovedOn_IsNotLateAndClosesByItsOwnProgress()
    {
        var w = new EventTimeWindows(TimeSpan.FromMinutes(5), TimeSpan.Zero);
        w.AddSource(0, T0);
        w.Add(At(T0.AddMinutes(21), "a"), source: 0, T0);
        w.DrainClosed(T0);

        // Partition 1 arrives after a rebalance and is re-read from its committed offset, far behind.
        w.AddSource(1, T0);
        Assert.True(w.Add(At(T0.AddMinutes(10), "b"), source: 1, T0), "a re-read partition is behind, not late");
        Assert.True(w.Add(At(T0.AddMinutes(12), "b"), source: 1, T0));
        Assert.Empty(w.DrainClosed(T0));
        w.Add(At(T0.AddMinutes(16), "b"), source: 1, T0);
        var closed = Assert.Single(w.DrainClosed(T0));
        Assert.Equal(("b", T0.AddMinutes(10), 2), (closed.Service, closed.Start, closed.Events.Count));
        Assert.Equal(0, w.LateEvents);
    }
}
