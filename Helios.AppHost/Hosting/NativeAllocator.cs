namespace Helios.AppHost.Hosting;

/// <summary>The malloc the detector runs with (see Program.cs): tcmalloc when Debian's libtcmalloc-minimal4 is installed.</summary>
public static class NativeAllocator
{
    /// <summary>Where the package puts the library, per architecture.</summary>
    private static readonly string[] Candidates =
    [
        "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
        "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4",
    ];

    /// <summary>The library's path, or null (the detector then keeps glibc's malloc).</summary>
    public static string? Tcmalloc() => OperatingSystem.IsLinux() ? Candidates.FirstOrDefault(File.Exists) : null;
}
