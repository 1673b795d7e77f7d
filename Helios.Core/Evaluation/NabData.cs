using System.Globalization;
using System.Text.Json;

namespace Helios.Core.Evaluation;

/// <summary>An inclusive labelled anomaly window of a NAB stream.</summary>
public readonly record struct TimeRange(DateTime Start, DateTime End)
{
    public bool Contains(DateTime t) => t >= Start && t <= End;
}

/// <summary>One NAB stream: its key (<c>category/file.csv</c>), points and labelled anomaly windows.</summary>
public sealed record NabStream(string Key, DateTime[] Timestamps, double[] Values, IReadOnlyList<TimeRange> AnomalyWindows)
{
    public string Category => Key[..Key.IndexOf('/', StringComparison.Ordinal)];

    public int Length => Values.Length;

    /// <summary>Point labels: a point is anomalous when its timestamp lies in a labelled window (ends inclusive).</summary>
    public bool[] PointLabels()
    {
        var labels = new bool[Values.Length];
        for (var i = 0; i < labels.Length; i++)
        {
            foreach (var w in AnomalyWindows)
            {
                if (w.Contains(Timestamps[i]))
                {
                    labels[i] = true;
                    break;
                }
            }
        }

        return labels;
    }
}

/// <summary>The Numenta Anomaly Benchmark corpus in ../shared/bench/data/nab (data/&lt;category&gt;/*.csv and labels/combined_windows.json).</summary>
public static class NabData
{
    private static readonly string[] TimestampFormats = ["yyyy-MM-dd HH:mm:ss.ffffff", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm"];

    public static string Root => Path.Combine(BenchData.Root, "nab");

    /// <summary>All streams in key order (category, then file name), so a seeded shuffle is reproducible.</summary>
    public static IReadOnlyList<NabStream> Load(string? root = null)
    {
        root ??= Root;
        var labelsPath = Path.Combine(root, "labels", "combined_windows.json");
        if (!File.Exists(labelsPath))
        {
            throw new FileNotFoundException($"NAB labels missing: {labelsPath}", labelsPath);
        }

        var labels = ParseLabels(File.ReadAllText(labelsPath));
        var streams = new List<NabStream>();
        foreach (var (key, windows) in labels.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var path = Path.Combine(root, "data", key.Replace('/', Path.DirectorySeparatorChar));
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"NAB stream {key} is labelled but missing: {path}", path);
            }

            var (timestamps, values) = ParseCsv(File.ReadLines(path));
            streams.Add(new NabStream(key, timestamps, values, windows));
        }

        return streams;
    }

    /// <summary>Parses combined_windows.json: an object mapping <c>category/file.csv</c> to a list of [start, end] timestamps.</summary>
    public static Dictionary<string, IReadOnlyList<TimeRange>> ParseLabels(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var result = new Dictionary<string, IReadOnlyList<TimeRange>>(StringComparer.Ordinal);
        foreach (var stream in doc.RootElement.EnumerateObject())
        {
            var windows = new List<TimeRange>();
            foreach (var pair in stream.Value.EnumerateArray())
            {
                windows.Add(new TimeRange(ParseTimestamp(pair[0].GetString()!), ParseTimestamp(pair[1].GetString()!)));
            }

            result[stream.Name] = windows;
        }

        return result;
    }

    /// <summary>Parses a <c>timestamp,value</c> CSV with a header line.</summary>
    public static (DateTime[] Timestamps, double[] Values) ParseCsv(IEnumerable<string> lines)
    {
        var timestamps = new List<DateTime>();
        var values = new List<double>();
        foreach (var line in lines.Skip(1))
        {
            if (line.Length == 0)
            {
                continue;
            }

            var comma = line.IndexOf(',', StringComparison.Ordinal);
            timestamps.Add(ParseTimestamp(line[..comma]));
            values.Add(double.Parse(line.AsSpan(comma + 1), NumberStyles.Float, CultureInfo.InvariantCulture));
        }

        return ([.. timestamps], [.. values]);
    }

    public static DateTime ParseTimestamp(string text) =>
        DateTime.ParseExact(text.Trim(), TimestampFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
