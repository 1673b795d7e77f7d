using Helios.Core.Windows;

namespace Helios.Core.Tests.Windows;

public sealed class CommitTrackerTests
{
    [Fact]
    public void CommitOffset_NothingConsumed_IsNull() => Assert.Null(new CommitTracker().CommitOffset(0));

    [Fact]
    public void CommitOffset_NoOpenWindow_IsNextAfterLastConsumed()
    {
        var tracker = new CommitTracker();
        tracker.Consumed(0, 41);
        tracker.Consumed(0, 7); // out of order does not move it back
        Assert.Equal(42, tracker.CommitOffset(0));
    }

    [Fact]
    public void CommitOffset_OpenWindow_HoldsItsFirstOffsetUntilReleased()
    {
        var tracker = new CommitTracker();
        tracker.Hold("a", 100, 0, 10);
        tracker.Hold("b", 100, 0, 11);
        tracker.Hold("a", 100, 0, 12);
        tracker.Consumed(0, 13);
        Assert.Equal(10, tracker.CommitOffset(0));

        tracker.Release("a", 100);
        Assert.Equal(11, tracker.CommitOffset(0));

        tracker.Release("b", 100);
        Assert.Equal(14, tracker.CommitOffset(0));
    }

    [Fact]
    public void CommitOffset_PartitionsAreIndependent()
    {
        var tracker = new CommitTracker();
        tracker.Hold("a", 100, 0, 5);
        tracker.Hold("b", 100, 1, 50);
        tracker.Release("b", 100);
        Assert.Equal(5, tracker.CommitOffset(0));
        Assert.Equal(51, tracker.CommitOffset(1));
    }

    [Fact]
    public void Release_WindowFedFromTwoPartitions_FreesBoth()
    {
        var tracker = new CommitTracker();
        tracker.Hold("a", 100, 0, 5);
        tracker.Hold("a", 100, 1, 9);
        tracker.Release("a", 100);
        Assert.Equal(6, tracker.CommitOffset(0));
        Assert.Equal(10, tracker.CommitOffset(1));
    }

    [Fact]
    public void Forget_RevokedPartition_DropsItsState()
    {
        var tracker = new CommitTracker();
        tracker.Hold("a", 100, 3, 5);
        tracker.Forget(3);
        Assert.Null(tracker.CommitOffset(3));
        Assert.DoesNotContain(3, tracker.Partitions);
    }

    /// <summary>Random holds, releases, revocations and consumption against a plain model of the rule: per partition, the lowest offset any open window holds, else the next after the last consumed.</summary>
    [Fact]
    public void RandomOperations_CommitOffsetMatchesTheRule()
    {
        var rng = new Random(3);
        var tracker = new CommitTracker();
        var windows = new Dictionary<(string, long), Dictionary<int, long>>();
        var next = new Dictionary<int, long>();
        var offsets = new long[4];
        for (var step = 0; step < 20_000; step++)
        {
            var partition = rng.Next(4);
            var window = ($"s{rng.Next(30)}", rng.Next(5) * 100L);
            switch (rng.Next(10))
            {
                case < 6:
                    // Mostly in order; sometimes an older offset (a window fed from a partition read again).
                    var offset = rng.Next(10) == 0 ? Math.Max(0, offsets[partition] - rng.Next(50)) : ++offsets[partition];
                    tracker.Hold(window.Item1, window.Item2, partition, offset);
                    var holds = windows.TryGetValue(window, out var h) ? h : windows[window] = [];
                    holds[partition] = Math.Min(holds.GetValueOrDefault(partition, long.MaxValue), offset);
                    next[partition] = Math.Max(next.GetValueOrDefault(partition), offset + 1);
                    break;
                case < 9:
                    tracker.Release(window.Item1, window.Item2);
                    windows.Remove(window);
                    break;
                default:
                    tracker.Forget(partition);
                    next.Remove(partition);
                    foreach (var holds2 in windows.Values)
                    {
                        holds2.Remove(partition);
                    }

                    break;
            }

            for (var p = 0; p < 4; p++)
            {
                var pinned = windows.Values.Where(w => w.ContainsKey(p)).Select(w => w[p]).DefaultIfEmpty(long.MaxValue).Min();
                long? expected = pinned != long.MaxValue ? pinned : next.TryGetValue(p, out var n) ? n : null;
                Assert.Equal(expected, tracker.CommitOffset(p));
            }
        }
    }
}
