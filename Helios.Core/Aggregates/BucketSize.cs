using System.Globalization;

namespace Helios.Core.Aggregates;

/// <summary>
/// The bucket of an aggregate export: a whole number of minutes that divides a day, written 1m, 5m, 15m, 1h, 6h
/// or 1d. Dividing a day keeps every bucket aligned to UTC midnight, so the same bucket size always cuts time at
/// the same instants, whatever range is asked for (PostgreSQL's date_bin with origin 2000-01-01 does the same).
/// </summary>
public static class BucketSize
{
    private const int MinutesPerDay = 24 * 60;

    public const string Rule = "Must be a whole number of minutes that divides a day, written like 1m, 5m, 15m, 1h, 6h or 1d.";

    public static bool TryParse(string? text, out TimeSpan bucket)
    {
        bucket = default;
        if (string.IsNullOrWhiteSpace(text) || text.Length < 2)
        {
            return false;
        }

        var unit = char.ToLowerInvariant(text[^1]) switch
        {
            'm' => 1,
            'h' => 60,
            'd' => MinutesPerDay,
            _ => 0,
        };
        if (unit == 0 || !int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            || count < 1 || (long)count * unit > MinutesPerDay || MinutesPerDay % (count * unit) != 0)
        {
            return false;
        }

        bucket = TimeSpan.FromMinutes(count * unit);
        return true;
    }

    /// <summary>The start of the bucket holding <paramref name="time"/> (buckets start at UTC midnight).</summary>
    public static DateTimeOffset Floor(DateTimeOffset time, TimeSpan bucket)
    {
        var ticks = time.UtcTicks;
        return new DateTimeOffset(ticks - (ticks % bucket.Ticks), TimeSpan.Zero);
    }
}
