using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Helios.Core.Features;

namespace Helios.Core.Detection;

/// <summary>
/// One feature's part in a result: its value, the training median, the robust z-score
/// ((value - median) / (1.4826 MAD)) and its share. For anomalies the share is the feature's part
/// of the isolation-path attribution (see <see cref="AnomalyModel.Attribution"/>); for normal rows,
/// where attribution is not computed, it is the feature's share of the summed |robust z|.
/// </summary>
public sealed record FeatureContribution(string Feature, double Value, double Baseline, double RobustZ, double Share);

/// <summary>
/// One scored row. Score is scikit-learn's score_samples; Threshold the model's own offset;
/// Normalized in [0, 1], 0.5 at the threshold, higher = more anomalous. A row is anomalous when
/// the forest's decision is negative or when one feature is extreme on its own
/// (|robust z| >= the model's <see cref="ModelManifest.ExtremeRobustZ"/>, when it has one);
/// ExtremeFeature then names the most extreme one. Contributions are sorted by share, largest first.
/// </summary>
public sealed record Assessment(
    bool IsAnomaly,
    double Score,
    double Decision,
    double Threshold,
    double Normalized,
    double Confidence,
    IReadOnlyList<FeatureContribution> Contributions,
    string? ExtremeFeature = null)
{
    public bool FlaggedByForest => Decision < 0;
}

public sealed record ModelManifest(
    int FormatVersion,
    string SchemaName,
    int SchemaVersion,
    string SchemaHash,
    IReadOnlyList<string> Features,
    int Trees,
    int SamplesPerTree,
    double Contamination,
    ulong Seed,
    double Offset,
    double ScoreMedian,
    int TrainingRows,
    string ScoreConvention,
    double? ExtremeRobustZ = null);

public sealed class ModelSchemaMismatchException(string message) : Exception(message);

/// <summary>An Isolation Forest with its feature schema and the training baseline that explanations use.</summary>
public sealed class AnomalyModel
{
    /// <summary>2 adds the optional per-service baselines after the feature baseline; 1 is still read.</summary>
    public const int FormatVersion = 2;
    public const string ScoreConvention = "score = scikit-learn score_samples (lower = more anomalous); decision = score - offset; decision < 0 is an anomaly";
    private static ReadOnlySpan<byte> Magic => "HELIOSIF"u8;

    private readonly double[] _median;
    private readonly double[] _scale;

    private AnomalyModel(FeatureSchema schema, IsolationForest forest, ModelManifest manifest, double[] median, double[] scale, ServiceBaselines? serviceBaselines = null)
    {
        ServiceBaselines = serviceBaselines;
        Schema = schema;
        Forest = forest;
        Manifest = manifest;
        _median = median;
        _scale = scale;
    }

    public FeatureSchema Schema { get; }

    public IsolationForest Forest { get; }

    public ModelManifest Manifest { get; }

    public double Threshold => Forest.Offset;

    public IReadOnlyList<double> BaselineMedian => _median;

    public IReadOnlyList<double> BaselineScale => _scale;

    /// <summary>Per-service baselines that relative features (events v2) are computed against; null when the schema has none.</summary>
    public ServiceBaselines? ServiceBaselines { get; }

    /// <summary>The same model carrying the per-service baselines its features were computed with.</summary>
    public AnomalyModel WithServiceBaselines(ServiceBaselines baselines) => new(Schema, Forest, Manifest, _median, _scale, baselines);

    /// <param name="extremeRobustZ">When set, a row with any feature at least this many robust
    /// standard deviations from the training median is anomalous even if the forest scores it
    /// normal (see <see cref="DefaultExtremeRobustZ"/>); stored in the manifest.</param>
    public static AnomalyModel Train(FeatureSchema schema, double[] rows, IsolationForestOptions options, double? extremeRobustZ = null)
    {
        if (extremeRobustZ is <= 0 || (extremeRobustZ is { } limit && !double.IsFinite(limit)))
        {
            throw new ArgumentOutOfRangeException(nameof(extremeRobustZ), "The extreme-feature limit must be a positive number of robust standard deviations.");
        }

        var forest = IsolationForest.Fit(rows, schema.Count, options);
        var n = rows.Length / schema.Count;
        var scores = new double[n];
        forest.ScoreSamples(rows, scores, options.MaxDegreeOfParallelism);
        var median = new double[schema.Count];
        var scale = new double[schema.Count];
        var column = new double[n];
        for (var f = 0; f < schema.Count; f++)
        {
            for (var r = 0; r < n; r++)
            {
                column[r] = rows[(r * schema.Count) + f];
            }

            median[f] = Percentiles.Linear(column, 50);
            for (var r = 0; r < n; r++)
            {
                column[r] = Math.Abs(column[r] - median[f]);
            }

            scale[f] = RobustScale(column, median[f]);
        }

        var manifest = new ModelManifest(FormatVersion, schema.Name, schema.Version, schema.Hash, schema.Features, forest.Trees,
            forest.SamplesPerTree, options.Contamination, options.Seed, forest.Offset, Percentiles.Linear(scores, 50), n, ScoreConvention, extremeRobustZ);
        return new AnomalyModel(schema, forest, manifest, median, scale);
    }

    /// <summary>
    /// A robust standard deviation from the absolute deviations around the median: 1.4826 MAD; when more
    /// than half the rows sit at the median (a zero-inflated feature such as an error rate or a surprise,
    /// whose MAD is 0), 1.2533 x the mean absolute deviation (the same estimate for a normal distribution)
    /// so z-scores stay readable; a constant feature gets a tiny relative scale so any change still stands out.
    /// </summary>
    internal static double RobustScale(Span<double> absoluteDeviations, double median)
    {
        var floor = Math.Max(Math.Abs(median) * 0.01, 1e-6);
        var mad = 1.4826 * Percentiles.Linear(absoluteDeviations, 50);
        if (mad > 0)
        {
            return Math.Max(mad, floor);
        }

        double sum = 0;
        foreach (var d in absoluteDeviations)
        {
            sum += d;
        }

        return Math.Max(1.2533 * sum / Math.Max(absoluteDeviations.Length, 1), floor);
    }

    /// <summary>
    /// The extreme-feature limit the traffic model uses: a feature this many robust standard
    /// deviations from its training median makes the row anomalous whatever the forest says. An
    /// Isolation Forest cannot isolate a point lying far beyond the training range any faster
    /// than the most extreme training rows (its splits never reach past them), which is how the
    /// gateway seed missed 10x the requests per second. Measured on 20,000 seeded normal gateway
    /// intervals (GatewayTraffic, lognormal latencies included), no interval the forest passes
    /// reaches 6 (7 reach 5, 167 reach 4). Models trained without a limit (the event model, whose
    /// zero-inflated error rate has no usable MAD and whose pooled latency features reach 15+ on
    /// normal windows) have no guard.
    /// </summary>
    public const double DefaultExtremeRobustZ = 6;

    public Assessment Assess(ReadOnlySpan<double> features)
    {
        if (features.Length != Schema.Count)
        {
            throw new ArgumentException($"Model {Schema.Id} expects {Schema.Count} features, got {features.Length}.", nameof(features));
        }

        Span<double> z = features.Length <= 64 ? stackalloc double[features.Length] : new double[features.Length];
        RobustZ(features, z);
        var score = Forest.ScoreSample(features);
        var decision = score - Forest.Offset;
        var (normalized, confidence) = Normalize(decision);
        var extreme = -1;
        var limit = Manifest.ExtremeRobustZ ?? double.PositiveInfinity;
        for (var f = 0; f < z.Length; f++)
        {
            if (Math.Abs(z[f]) >= limit && (extreme < 0 || Math.Abs(z[f]) > Math.Abs(z[extreme])))
            {
                extreme = f;
            }
        }

        if (extreme >= 0)
        {
            var (extremeNormalized, extremeConfidence) = NormalizeExtreme(Math.Abs(z[extreme]), limit);
            normalized = Math.Max(normalized, extremeNormalized);
            confidence = decision < 0 ? Math.Max(confidence, extremeConfidence) : extremeConfidence;
        }

        var isAnomaly = decision < 0 || extreme >= 0;
        var contributions = (isAnomaly ? Attribution(features, z) : null) ?? DeviationShares(features, z);
        return new Assessment(isAnomaly, score, decision, Forest.Offset, normalized, confidence, contributions,
            extreme >= 0 ? Schema.Features[extreme] : null);
    }

    /// <summary>
    /// Maps the decision onto [0, 1] with 0.5 at the threshold, in units of the spread between
    /// the threshold and the median training score, so severities are reachable on real data.
    /// </summary>
    public (double Normalized, double Confidence) Normalize(double decision)
    {
        var spread = Math.Max(Manifest.ScoreMedian - Forest.Offset, 1e-3);
        var distance = Math.Abs(decision) / spread;
        var half = 0.5 * Math.Exp(-distance);
        var normalized = decision < 0 ? 1 - half : half;
        return (normalized, 1 - Math.Exp(-distance));
    }

    /// <summary>
    /// The same curve for a row flagged by one extreme feature, in units of the limit: 0.5 at
    /// |z| = limit, about 0.82 (high) at twice it, 0.93 (critical) at three times.
    /// </summary>
    public static (double Normalized, double Confidence) NormalizeExtreme(double absRobustZ, double limit)
    {
        var distance = Math.Max(0, absRobustZ - limit) / limit;
        return (1 - (0.5 * Math.Exp(-distance)), 1 - Math.Exp(-distance));
    }

    /// <summary>(value - training median) / robust scale, per feature.</summary>
    public void RobustZ(ReadOnlySpan<double> features, Span<double> z)
    {
        for (var f = 0; f < features.Length; f++)
        {
            z[f] = (features[f] - _median[f]) / _scale[f];
        }
    }

    /// <summary>Robust z-score of each feature against the training baseline, and its share of the total |z|.</summary>
    public IReadOnlyList<FeatureContribution> Contributions(ReadOnlySpan<double> features)
    {
        var z = new double[features.Length];
        RobustZ(features, z);
        return DeviationShares(features, z);
    }

    /// <summary>
    /// Which features drove the forest's score, from <see cref="IsolationForest.AccumulatePathAttribution"/>:
    /// shares of the path weight of the trees that isolated the row earlier than average. Null when
    /// no tree did (the forest saw nothing unusual in the row).
    /// </summary>
    public IReadOnlyList<FeatureContribution>? Attribution(ReadOnlySpan<double> features)
    {
        var z = new double[features.Length];
        RobustZ(features, z);
        return Attribution(features, z);
    }

    private FeatureContribution[]? Attribution(ReadOnlySpan<double> features, ReadOnlySpan<double> z)
    {
        Span<double> weights = features.Length <= 64 ? stackalloc double[features.Length] : new double[features.Length];
        weights.Clear();
        var total = Forest.AccumulatePathAttribution(features, weights);
        if (total <= 0)
        {
            return null;
        }

        var result = new FeatureContribution[features.Length];
        for (var f = 0; f < features.Length; f++)
        {
            result[f] = new FeatureContribution(Schema.Features[f], features[f], _median[f], z[f], weights[f] / total);
        }

        Array.Sort(result, (a, b) => b.Share.CompareTo(a.Share));
        return result;
    }

    private FeatureContribution[] DeviationShares(ReadOnlySpan<double> features, ReadOnlySpan<double> z)
    {
        double total = 0;
        foreach (var v in z)
        {
            total += Math.Abs(v);
        }

        var result = new FeatureContribution[features.Length];
        for (var f = 0; f < features.Length; f++)
        {
            result[f] = new FeatureContribution(Schema.Features[f], features[f], _median[f], z[f], total > 0 ? Math.Abs(z[f]) / total : 0);
        }

        Array.Sort(result, (a, b) => b.Share.CompareTo(a.Share));
        return result;
    }

    public byte[] Serialize()
    {
        using var ms = new MemoryStream();
        ms.Write(Magic);
        var buf = new byte[8];
        void WriteInt(int v)
        {
            BinaryPrimitives.WriteInt32LittleEndian(buf, v);
            ms.Write(buf, 0, 4);
        }

        void WriteDouble(double v)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(buf, v);
            ms.Write(buf, 0, 8);
        }

        WriteInt(FormatVersion);
        var manifest = JsonSerializer.SerializeToUtf8Bytes(Manifest, ManifestJson.Options);
        WriteInt(manifest.Length);
        ms.Write(manifest);
        var nodes = Forest.Nodes;
        WriteInt(nodes.Length);
        foreach (var node in nodes)
        {
            WriteInt(node.Feature);
            WriteInt(node.Right);
            WriteDouble(node.Value);
        }

        WriteInt(Forest.Roots.Length);
        foreach (var root in Forest.Roots)
        {
            WriteInt(root);
        }

        foreach (var v in _median)
        {
            WriteDouble(v);
        }

        foreach (var v in _scale)
        {
            WriteDouble(v);
        }

        var baselines = ServiceBaselines is null ? [] : JsonSerializer.SerializeToUtf8Bytes(ServiceBaselines.Services, ManifestJson.Options);
        WriteInt(baselines.Length);
        ms.Write(baselines);
        return ms.ToArray();
    }

    /// <summary>Reads a stored model; refuses one built for another feature schema rather than score wrongly.</summary>
    public static AnomalyModel Deserialize(ReadOnlySpan<byte> data, FeatureSchema expected)
    {
        if (data.Length < 16 || !data[..8].SequenceEqual(Magic))
        {
            throw new InvalidDataException("Not a Helios Isolation Forest model (bad magic).");
        }

        var at = 8;
        int ReadInt(ReadOnlySpan<byte> d)
        {
            var v = BinaryPrimitives.ReadInt32LittleEndian(d[at..]);
            at += 4;
            return v;
        }

        double ReadDouble(ReadOnlySpan<byte> d)
        {
            var v = BinaryPrimitives.ReadDoubleLittleEndian(d[at..]);
            at += 8;
            return v;
        }

        var version = ReadInt(data);
        if (version is not (1 or FormatVersion))
        {
            throw new InvalidDataException($"Model format version {version} is not supported (this build reads {FormatVersion}).");
        }

        var manifestLength = ReadInt(data);
        var manifest = JsonSerializer.Deserialize<ModelManifest>(data.Slice(at, manifestLength), ManifestJson.Options)
            ?? throw new InvalidDataException("Model manifest is empty.");
        at += manifestLength;
        if (manifest.SchemaName != expected.Name || manifest.SchemaVersion != expected.Version || manifest.SchemaHash != expected.Hash)
        {
            throw new ModelSchemaMismatchException(
                $"Model was trained on feature schema {manifest.SchemaName}.v{manifest.SchemaVersion} ({manifest.SchemaHash}: {string.Join(", ", manifest.Features)}) " +
                $"but the caller uses {expected.Id} ({expected.Hash}: {string.Join(", ", expected.Features)}).");
        }

        var nodes = new IsolationForest.Node[ReadInt(data)];
        for (var i = 0; i < nodes.Length; i++)
        {
            nodes[i] = new IsolationForest.Node(ReadInt(data), ReadInt(data), ReadDouble(data));
        }

        var roots = new int[ReadInt(data)];
        for (var i = 0; i < roots.Length; i++)
        {
            roots[i] = ReadInt(data);
        }

        var median = new double[expected.Count];
        var scale = new double[expected.Count];
        for (var i = 0; i < median.Length; i++)
        {
            median[i] = ReadDouble(data);
        }

        for (var i = 0; i < scale.Length; i++)
        {
            scale[i] = ReadDouble(data);
        }

        ServiceBaselines? serviceBaselines = null;
        if (version >= 2 && ReadInt(data) is > 0 and var length)
        {
            serviceBaselines = new ServiceBaselines(JsonSerializer.Deserialize<List<ServiceBaseline>>(data.Slice(at, length), ManifestJson.Options)
                ?? throw new InvalidDataException("Model service baselines are empty."));
        }

        var forest = IsolationForest.FromParts(nodes, roots, expected.Count, manifest.SamplesPerTree, manifest.Offset);
        return new AnomalyModel(expected, forest, manifest, median, scale, serviceBaselines);
    }

    /// <summary>Reads only the manifest (for listings), without checking the schema.</summary>
    public static ModelManifest ReadManifest(ReadOnlySpan<byte> data)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(data[12..]);
        return JsonSerializer.Deserialize<ModelManifest>(data.Slice(16, length), ManifestJson.Options)!;
    }
}

internal static class ManifestJson
{
    public static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}
