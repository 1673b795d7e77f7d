using System.Globalization;

namespace Helios.Core.Evaluation;

/// <summary>A labelled outlier data set: row-major features and one label per row (true = outlier).</summary>
public sealed record LabelledMatrix(string Name, double[] Rows, int Columns, bool[] Labels)
{
    public int Count => Labels.Length;
}

/// <summary>The benchmark data in ../shared/bench/data (HELIOS_BENCH_DATA overrides the location).</summary>
public static class BenchData
{
    /// <summary>The eleven ODDS sets with scikit-learn 1.2.1's mean ROC-AUC on this machine (100 trees, psi 256, seeds 0 to 4).</summary>
    public static readonly IReadOnlyList<(string Name, double SklearnRocAuc)> OddsSets =
    [
        ("http", 0.9995), ("cover", 0.876), ("smtp", 0.904), ("shuttle", 0.997), ("mammography", 0.859), ("annthyroid", 0.827),
        ("satellite", 0.696), ("pima", 0.670), ("breastw", 0.988), ("arrhythmia", 0.807), ("ionosphere", 0.857),
    ];

    public static string Root
    {
        get
        {
            if (Environment.GetEnvironmentVariable("HELIOS_BENCH_DATA") is { Length: > 0 } overridden)
            {
                return overridden;
            }

            foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            {
                for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                {
                    var candidate = Path.Combine(dir.FullName, "shared", "bench", "data");
                    if (Directory.Exists(candidate))
                    {
                        return candidate;
                    }
                }
            }

            throw new DirectoryNotFoundException(
                $"Benchmark data not found: expected shared/bench/data in a folder above {AppContext.BaseDirectory}; set HELIOS_BENCH_DATA to its location.");
        }
    }

    /// <summary>Reads an ODDS CSV (header, feature columns, last column the 0/1 label).</summary>
    public static LabelledMatrix LoadOdds(string name)
    {
        var path = Path.Combine(Root, "odds", name + ".csv");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"ODDS set {name} missing: {path}", path);
        }

        var lines = File.ReadAllLines(path).Skip(1).Where(l => l.Length > 0).ToArray();
        var columns = lines[0].Split(',').Length - 1;
        var rows = new double[lines.Length * columns];
        var labels = new bool[lines.Length];
        for (var i = 0; i < lines.Length; i++)
        {
            var parts = lines[i].Split(',');
            for (var c = 0; c < columns; c++)
            {
                rows[(i * columns) + c] = double.Parse(parts[c], CultureInfo.InvariantCulture);
            }

            labels[i] = parts[columns].Trim() is "1" or "1.0";
        }

        return new LabelledMatrix(name, rows, columns, labels);
    }
}
