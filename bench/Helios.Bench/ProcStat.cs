using System.Globalization;
using System.Runtime.InteropServices;

namespace Helios.Bench;

/// <summary>CPU time and memory of processes from Linux's /proc.</summary>
internal static partial class ProcStat
{
    private const int ScClkTck = 2; // _SC_CLK_TCK on Linux
    private static readonly double TicksPerSecond = Math.Max(1, Sysconf(ScClkTck));

    /// <summary>utime + stime of a process, in seconds (NaN when it is gone).</summary>
    public static double CpuSeconds(int pid) => Fields(pid) is { } f ? (Tick(f, 14) + Tick(f, 15)) / TicksPerSecond : double.NaN;

    /// <summary>CPU of the PostgreSQL server processes of a data directory (each has it as its working directory), children reaped included.</summary>
    public static double PostgresCpuSeconds(string dataDirectory)
    {
        double ticks = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                if (!string.Equals(new FileInfo($"/proc/{pid}/cwd").LinkTarget, dataDirectory, StringComparison.Ordinal) || Fields(pid) is not { } f || f[1] != "postgres")
                {
                    continue;
                }

                ticks += Tick(f, 14) + Tick(f, 15) + Tick(f, 16) + Tick(f, 17);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }

        return ticks / TicksPerSecond;
    }

    /// <summary>Resets the process's peak resident set (VmHWM) to its current size (Linux clear_refs 5); false when not allowed.</summary>
    public static bool ResetPeakRss(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Peak resident set (VmHWM) in MB (NaN when the process is gone).</summary>
    public static double PeakRssMb(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }

    /// <summary>
    /// (busy, total, stolen) jiffies of all cores from the first line of /proc/stat; stolen (the steal field) is time a
    /// virtual CPU was ready to run while the host ran something else, counted in busy.
    /// </summary>
    public static (long Busy, long Total, long Stolen) MachineTicks()
    {
        var parts = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(p => long.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        var total = parts.Take(8).Sum(); // user nice system idle iowait irq softirq steal (guest is inside user)
        var idle = parts[3] + parts[4];
        return (total - idle, total, parts[7]);
    }

    public static double BusyPercent((long Busy, long Total, long Stolen) from, (long Busy, long Total, long Stolen) to) =>
        to.Total > from.Total ? 100.0 * (to.Busy - from.Busy) / (to.Total - from.Total) : double.NaN;

    /// <summary>The share of both cores' time the host took between two readings (%).</summary>
    public static double StolenPercent((long Busy, long Total, long Stolen) from, (long Busy, long Total, long Stolen) to) =>
        to.Total > from.Total ? 100.0 * (to.Stolen - from.Stolen) / (to.Total - from.Total) : double.NaN;

    /// <summary>The fields of /proc/pid/stat; field k of proc(5) is at index k - 1 ([1] comm, [13] utime, [14] stime).</summary>
    private static string[]? Fields(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }

        var open = stat.IndexOf('(', StringComparison.Ordinal);
        var close = stat.LastIndexOf(')');
        var rest = stat[(close + 2)..].Split(' ');
        return [stat[..open].Trim(), stat[(open + 1)..close], .. rest];
    }

    private static double Tick(string[] fields, int number) => double.Parse(fields[number - 1], CultureInfo.InvariantCulture);

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long Sysconf(int name);
}
