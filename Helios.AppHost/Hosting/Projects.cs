using System.Reflection;

namespace Helios.AppHost.Hosting;

/// <summary>A service project, run from its build output (the counterpart of Aspire's generated Projects class).</summary>
public sealed record ProjectMetadata(string ProjectName)
{
    public string AssemblyPath
    {
        get
        {
            var attributes = typeof(ProjectMetadata).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value);
            var root = Environment.GetEnvironmentVariable("HELIOS_REPOSITORY_ROOT") ?? attributes["HeliosRepositoryRoot"]!;
            var configuration = attributes["HeliosConfiguration"]!;
            return Path.Combine(root, ProjectName, "bin", configuration, "net10.0", ProjectName + ".dll");
        }
    }
}

public static class Projects
{
    public static readonly ProjectMetadata Api = new("Helios.Api");
    public static readonly ProjectMetadata Detector = new("Helios.Detector");
    public static readonly ProjectMetadata Optimizer = new("Helios.Optimizer");
    public static readonly ProjectMetadata Web = new("Helios.Web");
}
