using Helios.Core.Evaluation;

namespace Helios.Core.Tests.Evaluation;

public class WindowFeaturesTests
{
    [Fact]
    public void Shape_KnownWindow_MatchesHandComputedStatistics()
    {
        // mean 5, population std 2; third central moment 5.25 -> skewness 5.25 / 8; fourth 44.5 -> kurtosis 44.5 / 16 - 3.
        double[] w = [2, 4, 4, 4, 5, 5, 7, 9];

        var f = WindowFeatures.Shape(w);

        Assert.Equal(WindowFeatures.ShapeNames.Count, f.Length);
        Assert.Equal(5, f[0], 12);
        Assert.Equal(2, f[1], 12);
        Assert.Equal(2, f[2]);
        Assert.Equal(9, f[3]);
        Assert.Equal(7, f[4]);
        Assert.Equal(7, f[5]);
        Assert.Equal(2, f[6]);
        // differences 2,0,0,1,0,2,2: mean 1, population std sqrt(6/7)
        Assert.Equal(Math.Sqrt(6.0 / 7), f[7], 12);
        Assert.Equal(5.25 / 8, f[8], 12);
        Assert.Equal((44.5 / 16) - 3, f[9], 12);
    }

    [Fact]
    public void Shape_FlatWindow_MomentsZero()
    {
        var f = WindowFeatures.Shape([1, 1, 1, 1]);

        Assert.Equal([1, 0, 1, 1, 0, 0, 0, 0, 0, 0], f);
    }

    [Fact]
    public void Extract_AllGroups_ColumnsMatchNames()
    {
        var z = SlidingWindows.ZNormalise([.. Enumerable.Range(0, 300).Select(i => Math.Sin(i / 7.0))]);
        var all = WindowFeatureSet.Raw | WindowFeatureSet.Shape | WindowFeatureSet.Context | WindowFeatureSet.Stream | WindowFeatureSet.Discord | WindowFeatureSet.LeftDiscord;

        var rows = WindowFeatures.Extract(z, 60, 30, all);

        Assert.Equal(60 + 10 + 4 + 3 + 1 + 1, WindowFeatures.Names(all, 60).Count);
        Assert.Equal(SlidingWindows.Count(300, 60, 30) * WindowFeatures.Names(all, 60).Count, rows.Length);
        Assert.All(rows, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void Extract_LevelShift_ContextFlagsShiftedWindowOnly()
    {
        // Alternating noise around 0 for 120 points, then around 3: window 4 (points 120..179) is the first after the shift.
        var values = Enumerable.Range(0, 240).Select(i => (i % 2 == 0 ? 0.1 : -0.1) + (i >= 120 ? 3 : 0)).ToArray();

        var rows = WindowFeatures.Extract(values, 60, 30, WindowFeatureSet.Context);

        Assert.Equal([0, 0, 0, 0], rows.AsSpan(0, 4).ToArray());
        var before = rows[(2 * 4) + 0];
        var after = rows[(4 * 4) + 0];
        Assert.Equal(0, before, 9);
        Assert.True(after > 2, $"ctx_mean_z after the shift was {after}");
    }

    [Fact]
    public void NearestNeighbourDistances_PeriodicSeriesWithOneBump_BumpWindowFarthest()
    {
        var values = Enumerable.Range(0, 600).Select(i => Math.Sin(2 * Math.PI * i / 20)).ToArray();
        for (var i = 310; i < 320; i++)
        {
            values[i] += 3;
        }

        var d = WindowFeatures.NearestNeighbourDistances(values, 60, 30, leftOnly: false);

        var farthest = Array.IndexOf(d, d.Max());
        Assert.InRange(farthest, 9, 10); // windows starting at 270 and 300 contain the bump
        Assert.Equal(0, d[0], 9); // the sine repeats exactly every 20 points
    }

    [Fact]
    public void NearestNeighbourDistances_LeftOnlyWithoutHistory_NaN()
    {
        var values = Enumerable.Range(0, 300).Select(i => (double)(i % 10)).ToArray();

        var d = WindowFeatures.NearestNeighbourDistances(values, 60, 30, leftOnly: true);

        Assert.True(double.IsNaN(d[0]) && double.IsNaN(d[1]));
        Assert.Equal(0, d[2], 9);
    }
}
