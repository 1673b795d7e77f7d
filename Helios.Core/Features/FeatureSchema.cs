using System.Security.Cryptography;
using System.Text;

namespace Helios.Core.Features;

/// <summary>A named, versioned list of features; its hash is stored with every model.</summary>
public sealed record FeatureSchema(string Name, int Version, IReadOnlyList<string> Features)
{
    public int Count => Features.Count;

    public string Id => $"{Name}.v{Version}";

    public string Hash { get; } = ComputeHash(Name, Version, Features);

    private static string ComputeHash(string name, int version, IReadOnlyList<string> features)
    {
        var text = $"{name}|{version}|{string.Join(',', features)}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
    }
}
