namespace Helios.AppHost.Hosting;

/// <summary>
/// A cgroup below this process's own for the embedded PostgreSQL, in one controller's hierarchy: cgroup v1's, or cgroup
/// v2's where this process's cgroup delegates the controller to its children. <see cref="TryCreateMemory"/> limits the
/// server's memory; <see cref="TryCreateCpu"/> makes its processes one claim on the CPU. Processes are put in it by
/// writing their id to <see cref="ProcsFile"/>; their children stay in it.
/// </summary>
internal sealed class ServerCgroup
{
    private readonly string _directory;
    private readonly bool _v2;

    private ServerCgroup(string directory, bool v2) => (_directory, _v2) = (directory, v2);

    public string Directory => _directory;

    public string ProcsFile => Path.Combine(_directory, "cgroup.procs");

    /// <summary>The most memory the group's processes held at once (their page cache included), where the kernel says.</summary>
    public long? PeakBytes =>
        Path.Combine(_directory, _v2 ? "memory.peak" : "memory.max_usage_in_bytes") is var file
        && File.Exists(file) && long.TryParse(File.ReadAllText(file).Trim(), out var peak) ? peak : null;

    /// <summary>Creates (or reuses) the memory group <paramref name="name"/> limited to <paramref name="limitBytes"/>; null, and why not, where it cannot.</summary>
    public static ServerCgroup? TryCreateMemory(string name, long limitBytes, out string? whyNot) =>
        TryCreate("memory", name, v2 => (v2 ? "memory.max" : "memory.limit_in_bytes", Invariant(limitBytes)), out whyNot);

    /// <summary>
    /// Creates (or reuses) the CPU group <paramref name="name"/> with <paramref name="weight"/> on cgroup v2's scale (100:
    /// what systemd gives a service, and the kernel an autogroup; v1's cpu.shares get weight x 10.24); null, and why not,
    /// where it cannot. <see cref="EmbeddedPostgres.StartAsync"/> has checked the weight's range.
    /// </summary>
    public static ServerCgroup? TryCreateCpu(string name, int weight, out string? whyNot) =>
        TryCreate("cpu", name, v2 => v2 ? ("cpu.weight", Invariant(weight)) : ("cpu.shares", Invariant(weight * 1024L / 100)), out whyNot);

    private static string Invariant(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static ServerCgroup? TryCreate(string controller, string name, Func<bool, (string File, string Value)> setting, out string? whyNot)
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess)
        {
            whyNot = "creating a cgroup needs root on Linux";
            return null;
        }

        try
        {
            var (own, v2) = OwnCgroup(controller);
            if (own is null)
            {
                whyNot = $"no cgroup v1 {controller} hierarchy, and this process's cgroup v2 group does not delegate the {controller} controller";
                return null;
            }

            var directory = Path.Combine(own, name);
            var created = !System.IO.Directory.Exists(directory);
            System.IO.Directory.CreateDirectory(directory);
            try
            {
                var (file, value) = setting(v2);
                File.WriteAllText(Path.Combine(directory, file), value);
            }
            catch (Exception ex) when (created && ex is IOException or UnauthorizedAccessException)
            {
                new ServerCgroup(directory, v2).Delete(); // made here and of no use: not left behind
                throw;
            }

            whyNot = null;
            return new ServerCgroup(directory, v2);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            whyNot = ex.Message;
            return null;
        }
    }

    /// <summary>Removes the group once its processes have ended (in a memory group, what they cached is charged to the parent).</summary>
    public void Delete()
    {
        try
        {
            System.IO.Directory.Delete(_directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Still has a process (a server that outlived its stop), or gone already: the next start reuses it.
        }
    }

    /// <summary>This process's cgroup directory in the v1 hierarchy of <paramref name="controller"/>, else in the v2 one if it delegates it.</summary>
    private static (string? Directory, bool V2) OwnCgroup(string controller)
    {
        var groups = File.ReadAllLines("/proc/self/cgroup").Select(l => l.Split(':', 3)).Where(f => f.Length == 3).ToList();
        var mounts = File.ReadAllLines("/proc/self/mountinfo").Select(ParseMount).OfType<Mount>().ToList();
        if (groups.FirstOrDefault(g => g[1].Split(',').Contains(controller)) is { } v1
            && mounts.FirstOrDefault(m => m.Type == "cgroup" && m.Options.Split(',').Contains(controller)) is { } v1Mount)
        {
            return (Under(v1Mount, v1[2]), false);
        }

        if (groups.FirstOrDefault(g => g[0] == "0" && g[1].Length == 0) is { } unified
            && mounts.FirstOrDefault(m => m.Type == "cgroup2") is { } v2Mount
            && Under(v2Mount, unified[2]) is var own
            && File.Exists(Path.Combine(own, "cgroup.subtree_control"))
            && File.ReadAllText(Path.Combine(own, "cgroup.subtree_control")).Split(' ', StringSplitOptions.TrimEntries).Contains(controller))
        {
            return (own, true);
        }

        return (null, false);
    }

    private static string Under(Mount mount, string path)
    {
        var relative = mount.Root != "/" && path.StartsWith(mount.Root, StringComparison.Ordinal) ? path[mount.Root.Length..] : path;
        return Path.Join(mount.Point, relative.TrimStart('/'));
    }

    /// <summary>A line of /proc/self/mountinfo: "id parent dev root point options [tags] - type source super-options".</summary>
    private static Mount? ParseMount(string line)
    {
        var fields = line.Split(' ');
        var dash = Array.IndexOf(fields, "-");
        return fields.Length > 5 && dash > 5 && dash + 3 < fields.Length
            ? new Mount(fields[3].Replace("\\040", " ", StringComparison.Ordinal), fields[4].Replace("\\040", " ", StringComparison.Ordinal), fields[dash + 1], fields[dash + 3])
            : null;
    }

    private sealed record Mount(string Root, string Point, string Type, string Options);
}
