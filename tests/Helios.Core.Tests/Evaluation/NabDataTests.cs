using Helios.Core.Evaluation;

namespace Helios.Core.Tests.Evaluation;

public class NabDataTests
{
    private const string Labels = """
        {
            "cat/a.csv": [
                ["2014-01-01 00:05:00.000000", "2014-01-01 00:06:00.000000"]
            ],
            "cat/b.csv": []
        }
        """;

    [Fact]
    public void ParseLabels_CombinedWindowsJson_WindowsPerStream()
    {
        var labels = NabData.ParseLabels(Labels);

        Assert.Equal(2, labels.Count);
        var window = Assert.Single(labels["cat/a.csv"]);
        Assert.Equal(new DateTime(2014, 1, 1, 0, 5, 0, DateTimeKind.Utc), window.Start);
        Assert.Equal(new DateTime(2014, 1, 1, 0, 6, 0, DateTimeKind.Utc), window.End);
        Assert.Empty(labels["cat/b.csv"]);
    }

    [Fact]
    public void ParseCsv_HeaderAndRows_TimestampsAndValues()
    {
        var (timestamps, values) = NabData.ParseCsv(["timestamp,value", "2014-04-01 00:00:00,20.5", "2014-04-01 00:05:00,-3e2", ""]);

        Assert.Equal([new DateTime(2014, 4, 1, 0, 0, 0, DateTimeKind.Utc), new DateTime(2014, 4, 1, 0, 5, 0, DateTimeKind.Utc)], timestamps);
        Assert.Equal([20.5, -300], values);
    }

    [Fact]
    public void PointLabels_WindowEndsInclusive_OnlyPointsInsideLabelled()
    {
        var stream = MinuteStream(10, new TimeRange(Minute(3), Minute(5)));

        Assert.Equal([false, false, false, true, true, true, false, false, false, false], stream.PointLabels());
    }

    [Fact]
    public void Load_TinyCorpus_StreamsInKeyOrderWithLabels()
    {
        var root = Directory.CreateTempSubdirectory("helios-nab-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "labels"));
            Directory.CreateDirectory(Path.Combine(root, "data", "cat"));
            File.WriteAllText(Path.Combine(root, "labels", "combined_windows.json"), Labels);
            var rows = Enumerable.Range(0, 10).Select(i => $"2014-01-01 00:{i:00}:00,{i}");
            File.WriteAllLines(Path.Combine(root, "data", "cat", "b.csv"), ["timestamp,value", .. rows]);
            File.WriteAllLines(Path.Combine(root, "data", "cat", "a.csv"), ["timestamp,value", .. rows]);

            var streams = NabData.Load(root);

            Assert.Equal(["cat/a.csv", "cat/b.csv"], streams.Select(s => s.Key));
            Assert.Equal("cat", streams[0].Category);
            Assert.Equal(10, streams[0].Length);
            Assert.Equal([5, 6], streams[0].PointLabels().Select((l, i) => (l, i)).Where(p => p.l).Select(p => p.i));
            Assert.DoesNotContain(true, streams[1].PointLabels());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Load_LabelledStreamMissing_ThrowsWithPath()
    {
        var root = Directory.CreateTempSubdirectory("helios-nab-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "labels"));
            File.WriteAllText(Path.Combine(root, "labels", "combined_windows.json"), Labels);

            var e = Assert.Throws<FileNotFoundException>(() => NabData.Load(root));
            Assert.Contains("cat/a.csv", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    internal static DateTime Minute(int m) => new DateTime(2014, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes(m);

    internal static NabStream MinuteStream(int length, params TimeRange[] windows) =>
        new("cat/x.csv", [.. Enumerable.Range(0, length).Select(Minute)], [.. Enumerable.Range(0, length).Select(i => (double)i)], windows);
}
