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
}
