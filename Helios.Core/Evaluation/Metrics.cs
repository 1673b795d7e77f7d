namespace Helios.Core.Evaluation;

public readonly record struct Confusion(int TruePositives, int FalsePositives, int FalseNegatives, int TrueNegatives)
{
    public double Precision => TruePositives + FalsePositives == 0 ? 0 : (double)TruePositives / (TruePositives + FalsePositives);

    public double Recall => TruePositives + FalseNegatives == 0 ? 0 : (double)TruePositives / (TruePositives + FalseNegatives);

    public double F1 => Precision + Recall == 0 ? 0 : 2 * Precision * Recall / (Precision + Recall);

    public static Confusion Of(ReadOnlySpan<bool> predicted, ReadOnlySpan<bool> actual)
    {
        int tp = 0, fp = 0, fn = 0, tn = 0;
        for (var i = 0; i < predicted.Length; i++)
        {
            switch (predicted[i], actual[i])
            {
                case (true, true): tp++; break;
                case (true, false): fp++; break;
                case (false, true): fn++; break;
                default: tn++; break;
            }
        }

        return new Confusion(tp, fp, fn, tn);
    }
}

/// <summary>Ranking metrics where a higher score means "more anomalous" and a label true means anomaly.</summary>
public static class Metrics
{
    /// <summary>ROC-AUC by the Mann-Whitney U statistic with average ranks for ties (scikit-learn's roc_auc_score).</summary>
    public static double RocAuc(ReadOnlySpan<double> scores, ReadOnlySpan<bool> labels)
    {
        var order = Order(scores);
        double rankSumPositives = 0;
        long positives = 0;
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j + 1 < order.Length && scores[order[j + 1]] == scores[order[i]])
            {
                j++;
            }

            var rank = ((i + j) / 2.0) + 1;
            for (var k = i; k <= j; k++)
            {
                if (labels[order[k]])
                {
                    rankSumPositives += rank;
                    positives++;
                }
            }

            i = j + 1;
        }

        long negatives = labels.Length - positives;
        return positives == 0 || negatives == 0 ? double.NaN : (rankSumPositives - (positives * (positives + 1) / 2.0)) / (positives * (double)negatives);
    }

    /// <summary>PR-AUC as average precision (scikit-learn's average_precision_score): sum over thresholds of (R_n - R_{n-1}) P_n.</summary>
    public static double AveragePrecision(ReadOnlySpan<double> scores, ReadOnlySpan<bool> labels)
    {
        var points = OperatingPoints(scores, labels, out var positives);
        if (positives == 0)
        {
            return double.NaN;
        }

        double ap = 0;
        var tpBefore = 0;
        foreach (var (_, tp, flagged) in points)
        {
            ap += (double)(tp - tpBefore) / positives * ((double)tp / flagged);
            tpBefore = tp;
        }

        return ap;
    }

    /// <summary>The threshold (flag when score &gt;= threshold) with the best F1 on these labels.</summary>
    public static (double Threshold, double F1) BestF1Threshold(ReadOnlySpan<double> scores, ReadOnlySpan<bool> labels)
    {
        double bestF1 = 0, bestThreshold = double.PositiveInfinity;
        foreach (var (threshold, tp, flagged) in OperatingPoints(scores, labels, out var positives))
        {
            var f1 = tp == 0 ? 0 : 2.0 * tp / (flagged + positives);
            if (f1 > bestF1)
            {
                (bestF1, bestThreshold) = (f1, threshold);
            }
        }

        return (bestThreshold, bestF1);
    }

    /// <summary>
    /// The lowest threshold (flag when score &gt;= threshold) whose precision on these labels is still at
    /// least <paramref name="minPrecision"/>: the most recall an operator can have at a precision they ask for.
    /// Falls back to the best-F1 threshold when no threshold reaches the precision.
    /// </summary>
    public static double ThresholdForPrecision(ReadOnlySpan<double> scores, ReadOnlySpan<bool> labels, double minPrecision)
    {
        var chosen = double.NaN;
        foreach (var (threshold, tp, flagged) in OperatingPoints(scores, labels, out _))
        {
            if (tp > 0 && (double)tp / flagged >= minPrecision)
            {
                chosen = threshold;
            }
        }

        return double.IsNaN(chosen) ? BestF1Threshold(scores, labels).Threshold : chosen;
    }

    /// <summary>
    /// Every distinct threshold from the highest score down (ties form one threshold), with the true
    /// positives and the rows flagged at "score &gt;= threshold".
    /// </summary>
    private static List<(double Threshold, int TruePositives, int Flagged)> OperatingPoints(ReadOnlySpan<double> scores, ReadOnlySpan<bool> labels, out int positives)
    {
        var order = Order(scores);
        Array.Reverse(order);
        positives = 0;
        foreach (var l in labels)
        {
            positives += l ? 1 : 0;
        }

        var points = new List<(double, int, int)>();
        var tp = 0;
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j + 1 < order.Length && scores[order[j + 1]] == scores[order[i]])
            {
                j++;
            }

            for (var k = i; k <= j; k++)
            {
                tp += labels[order[k]] ? 1 : 0;
            }

            points.Add((scores[order[i]], tp, j + 1));
            i = j + 1;
        }

        return points;
    }

    private static int[] Order(ReadOnlySpan<double> scores)
    {
        var order = new int[scores.Length];
        var keys = scores.ToArray();
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(keys, order);
        return order;
    }
}
