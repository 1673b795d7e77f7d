using System.Globalization;
using System.Text;
using Helios.Core.Events;

namespace Helios.Bench;

/// <summary>
/// The pipeline benchmark's events, about 300 bytes of JSON each in the predecessor's shape, keyed by
/// service. Bodies (level, message, metadata, trace and span ids) come from pre-serialized pools; only
/// the timestamp and the service are put in per event, so producing costs little of the shared CPU.
/// Event time is synthetic and tied to the event count: event n of a phase is at
/// start + n * window / (services * eventsPerWindow), services take turns, so every service window holds
/// exactly <c>eventsPerWindow</c> events and windows close as fast as the consumer gets through them.
/// </summary>
internal sealed class PipelineTraffic
{
    public const int TimestampLength = 24; // yyyy-MM-ddTHH:mm:ss.fffZ
    public static readonly DateTime EventTimeStart = new(2026, 6, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>No event is longer (the longest body, service part and head come to about 420 bytes).</summary>
    public const int MaxEventBytes = 1024;

    private const int NormalPool = 4096; // 12 bits of the mixed event number pick a body
    private const int StormPool = 1024; // 10 bits
    private static readonly byte[] Head = "{\"timestamp\":\""u8.ToArray();
    private static readonly string[] Endpoints =
    [
        "/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/users/{id}", "/api/v1/search",
        "/api/v1/cart", "/api/v1/checkout", "/api/v1/inventory/{sku}", "/api/v1/recommendations",
    ];

    private readonly byte[][] _keys;
    private readonly byte[][] _serviceParts;
    private readonly byte[][] _normal;
    private readonly byte[][] _storm;

    public PipelineTraffic(int services, int eventsPerWindow, int stormsPerWindow, TimeSpan window)
    {
        Services = services;
        EventsPerWindow = eventsPerWindow;
        StormsPerWindow = stormsPerWindow;
        Window = window;
        _keys = new byte[services][];
        _serviceParts = new byte[services][];
        for (var s = 0; s < services; s++)
        {
            var name = ServiceName(s);
            _keys[s] = Encoding.UTF8.GetBytes(name);
            _serviceParts[s] = Encoding.UTF8.GetBytes($"\",\"service\":\"{name}\",");
        }

        var rng = new Random(42);
        _normal = Enumerable.Range(0, NormalPool).Select(_ => Body(rng, storm: false)).ToArray();
        _storm = Enumerable.Range(0, StormPool).Select(_ => Body(rng, storm: true)).ToArray();
        var longest = Head.Length + TimestampLength + _serviceParts.Max(p => p.Length) + Math.Max(_normal.Max(b => b.Length), _storm.Max(b => b.Length));
        if (longest > MaxEventBytes)
        {
            throw new InvalidOperationException($"An event of {longest} bytes is longer than {MaxEventBytes}.");
        }

        AverageBytes = Head.Length + TimestampLength + _serviceParts.Average(p => p.Length) + (_normal.Average(b => b.Length) * (1 - ((double)stormsPerWindow / services)))
            + (_storm.Average(b => b.Length) * stormsPerWindow / services);
    }

    public int Services { get; }

    public int EventsPerWindow { get; }

    public int StormsPerWindow { get; }

    public TimeSpan Window { get; }

    public long EventsPerWindowSlot => (long)Services * EventsPerWindow;

    public double AverageBytes { get; }

    public double AverageKeyBytes => _keys.Average(k => k.Length);

    public static string ServiceName(int s) => "svc-" + s.ToString("D5", CultureInfo.InvariantCulture);

    /// <summary>The service of event n of a phase (services take turns).</summary>
    public int ServiceOf(long n) => (int)(n % Services);

    /// <summary>A service's key.</summary>
    public byte[] Key(int service) => _keys[service];

    /// <summary>Event time of event n of a phase.</summary>
    public DateTime EventTime(long n) => EventTimeStart.AddTicks(n * Window.Ticks / EventsPerWindowSlot);

    /// <summary>The services with an error storm in a window slot (distinct, the same in every phase).</summary>
    public int[] StormServices(long window)
    {
        var rng = new Random(unchecked((int)(window * 7919) + 13));
        var chosen = new HashSet<int>();
        while (chosen.Count < Math.Min(StormsPerWindow, Services))
        {
            chosen.Add(rng.Next(Services));
        }

        return [.. chosen.Order()];
    }

    /// <summary>One sample of each pool as a full event, for the printed protocol and a check against the parser.</summary>
    public (byte[] Normal, byte[] Storm) Samples()
    {
        var generator = NewGenerator();
        var storms = StormServices(0);
        byte[]? normal = null, storm = null;
        for (long n = 0; normal is null || storm is null; n++)
        {
            var payload = generator.Next(n, out _);
            if (storms.Contains((int)(n % Services)))
            {
                storm ??= payload;
            }
            else
            {
                normal ??= payload;
            }
        }

        return (normal, storm);
    }

    public Generator NewGenerator() => new(this);

    private static byte[] Body(Random rng, bool storm)
    {
        var r = rng.NextDouble();
        var level = storm ? (r < 0.85 ? "ERROR" : "INFO") : r < 0.01 ? "ERROR" : r < 0.03 ? "WARN" : "INFO";
        var endpoint = Endpoints[rng.Next(Endpoints.Length)];
        var method = endpoint.Contains("cart", StringComparison.Ordinal) || endpoint.Contains("checkout", StringComparison.Ordinal) ? "POST" : "GET";
        // Log-normal latency around 100 ms (median e^4.6), five times slower in a storm.
        var normal = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        var latency = Math.Round(Math.Exp(4.6 + (0.5 * normal)) * (storm ? 5 : 1), 1);
        var status = level switch
        {
            "ERROR" => rng.Next(2) == 0 ? 500 : 503,
            "WARN" => 429,
            _ => method == "POST" ? 201 : 200,
        };
        var message = level == "ERROR" ? $"upstream failure: {method} {endpoint} -> {status} after {latency:0.0} ms"
            : $"{method} {endpoint} -> {status} in {latency:0.0} ms";
        var trace = Convert.ToHexStringLower(RandomBytes(rng, 16));
        var span = Convert.ToHexStringLower(RandomBytes(rng, 8));
        return Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"\"level\":\"{level}\",\"message\":\"{message}\",\"metadata\":{{\"latency_ms\":{latency:0.0},\"endpoint\":\"{endpoint}\",\"http_method\":\"{method}\",\"status_code\":{status}}},\"trace_id\":\"{trace}\",\"span_id\":\"{span}\"}}"));
    }

    private static byte[] RandomBytes(Random rng, int count)
    {
        var bytes = new byte[count];
        rng.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Builds events in order for one producer thread (not thread-safe).</summary>
    internal sealed class Generator(PipelineTraffic traffic)
    {
        private readonly bool[] _storming = new bool[traffic.Services];
        private readonly byte[] _timestamp = new byte[TimestampLength];
        private long _window = -1;
        private long _timestampMs = -1;

        public long StormEvents { get; private set; }

        /// <summary>Event n as a new array (samples, the hot-path benchmark).</summary>
        public byte[] Next(long n, out byte[] key)
        {
            Span<byte> buffer = stackalloc byte[MaxEventBytes];
            var length = Write(n, buffer, out key);
            return buffer[..length].ToArray();
        }

        /// <summary>Writes event n into <paramref name="destination"/> (at least <see cref="MaxEventBytes"/> long) and returns its length.</summary>
        public int Write(long n, Span<byte> destination, out byte[] key)
        {
            var s = (int)(n % traffic.Services);
            var window = n / traffic.EventsPerWindowSlot;
            if (window != _window)
            {
                Array.Clear(_storming);
                foreach (var storm in traffic.StormServices(window))
                {
                    _storming[storm] = true;
                }

                _window = window;
            }

            var time = traffic.EventTime(n);
            var ms = time.Ticks / TimeSpan.TicksPerMillisecond;
            if (ms != _timestampMs)
            {
                time.TryFormat(_timestamp, out _, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
                _timestampMs = ms;
            }

            // A cheap mix of n picks the body, so a service's events differ from window to window.
            var mixed = unchecked((ulong)n * 0x9E3779B97F4A7C15UL);
            byte[] body;
            if (_storming[s])
            {
                body = traffic._storm[(int)(mixed >> 54)];
                StormEvents++;
            }
            else
            {
                body = traffic._normal[(int)(mixed >> 52)];
            }

            var part = traffic._serviceParts[s];
            Head.CopyTo(destination);
            _timestamp.CopyTo(destination[Head.Length..]);
            part.CopyTo(destination[(Head.Length + TimestampLength)..]);
            body.CopyTo(destination[(Head.Length + TimestampLength + part.Length)..]);
            key = traffic._keys[s];
            return Head.Length + TimestampLength + part.Length + body.Length;
        }
    }

    /// <summary>True when the detector's parser accepts the event with the expected service and time.</summary>
    public static bool Parses(byte[] payload, out TelemetryEvent? parsed) => EventParser.TryParse(payload, out parsed, out _);
}
