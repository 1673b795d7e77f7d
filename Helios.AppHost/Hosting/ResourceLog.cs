using System.Collections.Concurrent;

namespace Helios.AppHost.Hosting;

/// <summary>Child output, prefixed with the resource name on the console and kept (last lines) for diagnostics.</summary>
public sealed class ResourceLog(bool echo)
{
    private const int Keep = 400;
    private static readonly Lock ConsoleLock = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _lines = new();

    public int PrefixWidth { get; set; } = 10;

    public void Write(string resource, string? line)
    {
        if (line is null)
        {
            return;
        }

        var queue = _lines.GetOrAdd(resource, _ => new ConcurrentQueue<string>());
        queue.Enqueue(line);
        while (queue.Count > Keep && queue.TryDequeue(out _))
        {
        }

        if (echo)
        {
            lock (ConsoleLock)
            {
                Console.Out.WriteLine($"{("[" + resource + "]").PadRight(PrefixWidth + 2)} {line}");
            }
        }
    }

    public IReadOnlyList<string> Tail(string resource, int count) =>
        _lines.TryGetValue(resource, out var q) ? q.TakeLast(count).ToList() : [];
}
