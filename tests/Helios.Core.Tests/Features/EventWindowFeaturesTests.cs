using Helios.Core.Events;
using Helios.Core.Features;

namespace Helios.Core.Tests.Features;

public class EventWindowFeaturesTests
{
    [Fact]
    public void ToFeatures_KnownWindow_MatchesNumpyDefinitions()
    {
        var acc = new WindowAccumulator();
        double[] latencies = [10, 20, 30, 40, 100];
        for (var i = 0; i < latencies.Length; i++)
        {
            acc.Add(i < 2 ? EventLevel.Error : EventLevel.Info, latencies[i], i % 2 == 0 ? "/a" : "/b");
        }

        acc.Add(EventLevel.Critical, double.NaN, null);
        var f = acc.ToFeatures();
        Assert.Equal(6, f[EventWindowFeatures.TotalEvents]);
        Assert.Equal(3.0 / 6, f[EventWindowFeatures.ErrorRate], 12);
        Assert.Equal(40, f[EventWindowFeatures.AvgLatency], 12);
        // numpy.percentile([10,20,30,40,100], 95) = 88.0 and 99 -> 97.6 (linear interpolation)
        Assert.Equal(88.0, f[EventWindowFeatures.P95Latency], 9);
        Assert.Equal(97.6, f[EventWindowFeatures.P99Latency], 9);
        // numpy.std (population) = sqrt(1000) = 31.6227766
        Assert.Equal(Math.Sqrt(1000), f[EventWindowFeatures.LatencyStddev], 9);
        Assert.Equal(2, f[EventWindowFeatures.UniqueEndpoints]);
    }

    [Fact]
    public void ToFeatures_NoLatencies_LatencyFeaturesAreZero()
    {
        var acc = new WindowAccumulator();
        acc.Add(EventLevel.Info, double.NaN, null);
        var f = acc.ToFeatures();
        Assert.Equal([1, 0, 0, 0, 0, 0, 0], f);
    }

    [Fact]
    public void Schema_HasSevenNamedFeatures_AndStableHash()
    {
        Assert.Equal(7, EventWindowFeatures.Schema.Count);
        Assert.Equal("events.v1", EventWindowFeatures.Schema.Id);
        Assert.Equal(new FeatureSchema("events", 1, [.. EventWindowFeatures.Schema.Features]).Hash, EventWindowFeatures.Schema.Hash);
        Assert.NotEqual(new FeatureSchema("events", 2, [.. EventWindowFeatures.Schema.Features]).Hash, EventWindowFeatures.Schema.Hash);
    }
}
