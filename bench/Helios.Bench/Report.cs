using System.Globalization;

namespace Helios.Bench;

/// <summary>Console output of a benchmark: headings, protocol lines and aligned tables.</summary>
internal sealed class Report(TextWriter output)
{
    public void Heading(string text)
    {
        output.WriteLine();
        output.WriteLine("== " + text);
    }

    public void Line(string text) => output.WriteLine(text);

    /// <summary>Prints progress of a long step on one line, so a slow benchmark shows it is alive.</summary>
    public void Progress(string text) => output.WriteLine("   .. " + text);

    public void Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<object?>> rows)
    {
        var cells = rows.Select(r => r.Select(Format).ToArray()).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, cells.Count == 0 ? 0 : cells.Max(r => r[i].Length))).ToArray();
        output.WriteLine(string.Join("  ", header.Select((h, i) => i == 0 ? h.PadRight(widths[i]) : h.PadLeft(widths[i]))));
        output.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in cells)
        {
            output.WriteLine(string.Join("  ", row.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))));
        }
    }

    private static string Format(object? value) => value switch
    {
        null => "",
        double d when double.IsNaN(d) => "n/a",
        double d when Math.Abs(d) >= 1000 => d.ToString("N0", CultureInfo.InvariantCulture),
        double d when Math.Abs(d) >= 10 => d.ToString("0.0", CultureInfo.InvariantCulture),
        double d => d.ToString("0.####", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
