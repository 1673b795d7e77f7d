using Helios.Core.Detection;

namespace Helios.Core.Tests.Detection;

public sealed class EvidenceTrackerTests
{
    private static readonly TimeSpan Size = TimeSpan.FromMinutes(5);

    [Theory]
    [InlineData(2, 1)]
    [InlineData(9, 2)]
    [InlineData(40, 3)]
    [InlineData(300, 4)]
    public void WholeSlotsInOneBatch_EqualTheOfflineGuard(int services, int seed)
    {
        var rng = new Random(seed);
        var tracker = new EvidenceTracker(Size);
        var surprise = new Dictionary<(int Service, int Slot), double>();
        for (var slot = 0; slot < 6; slot++)
        {
            // Mostly normal windows, some moderately and some very surprised ones, and ties.
            var batch = Enumerable.Range(0, services).Select(s =>
            {
                var value = rng.NextDouble() switch
                {
                    < 0.6 => Math.Round(rng.NextDouble() * 1.5, 1),
                    < 0.9 => rng.NextDouble() * 4,
                    _ => 3 + (rng.NextDouble() * 10),
                };
                surprise[(s, slot)] = value;
                return new WindowSurprise($"svc-{s}", Start(slot), value);
            }).ToList();
            var evidence = new Evidence[batch.Count];
            tracker.Evaluate(batch, evidence);

            for (var s = 0; s < services; s++)
            {
                var peers = Enumerable.Range(0, services).Where(o => o != s).Select(o => surprise[(o, slot)]).OrderDescending().ToArray();
                var expected = SurpriseGuard.Corroborated(surprise[(s, slot)], surprise.GetValueOrDefault((s, slot - 1)), surprise.GetValueOrDefault((s, slot - 2)), peers);
                Assert.Equal(expected, evidence[s].Value, 9);
            }
        }
    }

    [Fact]
    public void PeersClosedInAnEarlierBatch_CorroborateLaterOnes()
    {
        var tracker = new EvidenceTracker(Size);
        var first = new Evidence[1];
        tracker.Evaluate([new WindowSurprise("a", Start(0), 4.0)], first);
        Assert.Equal(new Evidence(4.0, 1, 0), first[0]);

        var second = new Evidence[1];
        tracker.Evaluate([new WindowSurprise("b", Start(0), 3.5)], second);

        // Two services in one slot, both at least 3.5: 2 x 3.5 less log10 C(1, 1) = 0.
        Assert.Equal(new Evidence(7.0, 1, 1), second[0]);
    }

    [Fact]
    public void TwoWindowsOfOneServiceInOneBatch_TheLaterSeesTheEarlierAsHistory()
    {
        var tracker = new EvidenceTracker(Size);
        var evidence = new Evidence[2];
        tracker.Evaluate([new WindowSurprise("a", Start(1), 3.0), new WindowSurprise("a", Start(0), 4.0)], evidence);

        Assert.Equal(new Evidence(4.0, 1, 0), evidence[1]);
        Assert.Equal(new Evidence(6.0, 2, 0), evidence[0]);
    }

    [Fact]
    public void RememberedHistory_FromAnEarlierRun_Counts()
    {
        var tracker = new EvidenceTracker(Size);
        tracker.Remember("a", Start(0), 2.5);
        tracker.Remember("a", Start(1), 3.0);
        var evidence = new Evidence[1];
        tracker.Evaluate([new WindowSurprise("a", Start(2), 2.8)], evidence);

        Assert.Equal(new Evidence(3 * 2.5, 3, 0), evidence[0]);
    }

    [Fact]
    public void AGapBetweenWindows_BreaksTheHistory()
    {
        var tracker = new EvidenceTracker(Size);
        tracker.Remember("a", Start(0), 5.0);
        var evidence = new Evidence[1];
        tracker.Evaluate([new WindowSurprise("a", Start(2), 4.0)], evidence);

        Assert.Equal(new Evidence(4.0, 1, 0), evidence[0]);
    }

    [Fact]
    public void OldSlots_AreForgotten()
    {
        var tracker = new EvidenceTracker(Size, slotsKept: 3);
        var evidence = new Evidence[1];
        for (var slot = 0; slot < 10; slot++)
        {
            tracker.Evaluate([new WindowSurprise("a", Start(slot), 1.0)], evidence);
        }

        Assert.Equal(3, tracker.Slots);
    }

    [Fact]
    public void ReusedSlots_OfOtherSizes_EqualTheOfflineGuard()
    {
        // Two slots kept: from the third on, each slot reuses a pruned one's tables, larger or smaller than it needs,
        // and each arrives in three batches, so its tables are rebuilt with the peers closed so far.
        var rng = new Random(7);
        var tracker = new EvidenceTracker(Size, slotsKept: 2);
        int[] sizes = [60, 5, 33, 2, 90, 1, 17, 48, 3];
        var surprise = new Dictionary<(int Service, int Slot), double>();
        for (var slot = 0; slot < sizes.Length; slot++)
        {
            var closed = new List<int>();
            foreach (var part in Enumerable.Range(0, sizes[slot]).Chunk((sizes[slot] + 2) / 3))
            {
                foreach (var s in part)
                {
                    surprise[(s, slot)] = rng.NextDouble() < 0.7 ? Math.Round(rng.NextDouble() * 2, 1) : 2 + (rng.NextDouble() * 8);
                }

                closed.AddRange(part);
                var evidence = new Evidence[part.Length];
                tracker.Evaluate([.. part.Select(s => new WindowSurprise($"svc-{s}", Start(slot), surprise[(s, slot)]))], evidence);
                for (var i = 0; i < part.Length; i++)
                {
                    var s = part[i];
                    var peers = closed.Where(o => o != s).Select(o => surprise[(o, slot)]).OrderDescending().ToArray();
                    var expected = SurpriseGuard.Corroborated(surprise[(s, slot)], surprise.GetValueOrDefault((s, slot - 1)), surprise.GetValueOrDefault((s, slot - 2)), peers);
                    Assert.Equal(expected, evidence[i].Value, 9);
                }
            }
        }

        Assert.Equal(2, tracker.Slots);
    }

    private static long Start(int slot) => new DateTimeOffset(2026, 3, 2, 8, 0, 0, TimeSpan.Zero).Add(Size * slot).UtcTicks;
}
