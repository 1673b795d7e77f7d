using Helios.Core.Features;

namespace Helios.Core.Detection;

/// <summary>
/// The Isolation Forest cannot make a window more anomalous than the most extreme training window
/// in the direction it leaves the data, so a window extreme in ONE feature only (10x the traffic,
/// everything else normal) scores like a mildly odd one. The guard looks at the events v2
/// surprise features (binomial or Poisson -log10 p-values against the service's baseline) directly.
/// </summary>
public static class SurpriseGuard
{
    /// <summary>The largest surprise of an events v2 row (rate, errors, slow requests), in decimal digits.</summary>
    public static double Score(ReadOnlySpan<double> features) => Math.Max(
        features[EventWindowFeatures.RateSurprise],
        Math.Max(features[EventWindowFeatures.ErrorSurprise], features[EventWindowFeatures.SlowSurprise]));

    /// <summary>
    /// Evidence over two consecutive windows of a service: a window counts as surprising as its own
    /// surprise, or as twice the smaller of its own and the previous window's, so an incident that
    /// makes two windows in a row moderately unusual (a few extra errors in a quiet service) reaches
    /// the threshold that one window alone would need to reach by itself. The end of an incident
    /// does not carry over: a normal window has a small surprise of its own.
    /// </summary>
    public static double Persistent(double current, double previous) => Math.Max(current, 2 * Math.Min(current, previous));

    /// <summary>
    /// Evidence from the service's last three windows and from the other services' windows of the same
    /// slot (a shared dependency failing shows in several services at once). Surprises are -log10 p, so
    /// under independence "both of two windows at least m" has surprise 2m and "all three" 3m; for peers,
    /// "this window and the j most surprised of n other services all at least m" has surprise (j + 1) m,
    /// less log10 C(n, j) for the choice of which j. A normal window keeps a small score: every term is
    /// capped by its own surprise.
    /// </summary>
    /// <param name="peers">Surprises of the other services' windows of the same slot, in descending order.</param>
    public static double Corroborated(double current, double previous, double beforePrevious, ReadOnlySpan<double> peers)
    {
        var best = Math.Max(Persistent(current, previous), 3 * Math.Min(current, Math.Min(previous, beforePrevious)));
        var logChoose = 0.0;
        for (var j = 1; j <= peers.Length; j++)
        {
            logChoose += Math.Log10((double)(peers.Length - j + 1) / j);
            best = Math.Max(best, ((j + 1) * Math.Min(current, peers[j - 1])) - logChoose);
        }

        return best;
    }
}
