using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Helios.AppHost.Telemetry;

/// <param name="Kind">OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer.</param>
/// <param name="Attributes">Span attributes as strings; a non-unset status adds otel.status_code (OK/ERROR) and otel.status_description.</param>
public sealed record ReceivedSpan(
    string ServiceName,
    string Scope,
    string TraceId,
    string SpanId,
    string? ParentSpanId,
    string Name,
    int Kind,
    DateTimeOffset Start,
    DateTimeOffset End,
    IReadOnlyDictionary<string, string> Attributes);

/// <summary>
/// Local stand-in for the Aspire dashboard's OTLP/HTTP endpoint: keeps the spans POSTed to /v1/traces
/// (application/x-protobuf, optionally gzip) in memory; /v1/metrics and /v1/logs are accepted and discarded.
/// </summary>
public sealed class OtlpTraceReceiver : IAsyncDisposable
{
    public const int Capacity = 100_000;
    private const string Protobuf = "application/x-protobuf";

    private readonly WebApplication app;
    private readonly Queue<ReceivedSpan> spans = new();
    private readonly Lock gate = new();

    private OtlpTraceReceiver(WebApplication app) => this.app = app;

    public Uri Endpoint { get; private set; } = null!;

    public IReadOnlyList<ReceivedSpan> Spans
    {
        get
        {
            lock (gate)
            {
                return spans.ToArray();
            }
        }
    }

    public event Action<ReceivedSpan>? SpanReceived;

    /// <param name="port">Port on 127.0.0.1; 0 picks a free one (see <see cref="Endpoint"/>).</param>
    public static async Task<OtlpTraceReceiver> StartAsync(int port, CancellationToken ct)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        // The default console lifetime would take over SIGTERM/Ctrl+C from the AppHost that embeds this receiver.
        builder.Services.AddSingleton<IHostLifetime, EmbeddedLifetime>();
        var app = builder.Build();
        var receiver = new OtlpTraceReceiver(app);
        app.Run(receiver.HandleAsync);
        await app.StartAsync(ct);
        receiver.Endpoint = new Uri(app.Urls.First());
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var path = request.Path.Value;
        if (!HttpMethods.IsPost(request.Method) || path is not ("/v1/traces" or "/v1/metrics" or "/v1/logs"))
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (path == "/v1/traces")
        {
            if (request.ContentType?.StartsWith(Protobuf, StringComparison.OrdinalIgnoreCase) != true)
            {
                response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
                return;
            }

            using var body = new MemoryStream();
            var input = request.Headers.ContentEncoding.ToString().Equals("gzip", StringComparison.OrdinalIgnoreCase)
                ? new GZipStream(request.Body, CompressionMode.Decompress)
                : request.Body;
            await using (input)
            {
                await input.CopyToAsync(body, context.RequestAborted);
            }

            IReadOnlyList<ReceivedSpan> received;
            try
            {
                received = Decode(body.GetBuffer().AsSpan(0, (int)body.Length));
            }
            catch (InvalidDataException)
            {
                response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }

            Store(received);
        }
        else
        {
            await request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
        }

        // An empty Export*ServiceResponse encodes to zero bytes.
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = Protobuf;
        response.ContentLength = 0;
    }

    private void Store(IReadOnlyList<ReceivedSpan> received)
    {
        lock (gate)
        {
            foreach (var span in received)
            {
                spans.Enqueue(span);
                if (spans.Count > Capacity)
                {
                    spans.Dequeue();
                }
            }
        }

        if (SpanReceived is { } handler)
        {
            foreach (var span in received)
            {
                handler(span);
            }
        }
    }

    /// <summary>Decodes an OTLP ExportTraceServiceRequest; throws <see cref="InvalidDataException"/> on malformed input.</summary>
    public static IReadOnlyList<ReceivedSpan> Decode(ReadOnlySpan<byte> exportTraceServiceRequest)
    {
        var result = new List<ReceivedSpan>();
        var reader = new ProtoReader(exportTraceServiceRequest);
        while (reader.Next(out var field, out var wire))
        {
            if (field == 1 && wire == ProtoReader.Len)
            {
                DecodeResourceSpans(reader.ReadBytes(), result);
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return result;
    }

    // Fields may come in any order, so the resource (or scope) is read in a first pass and the spans in a second.
    private static void DecodeResourceSpans(ReadOnlySpan<byte> data, List<ReceivedSpan> result)
    {
        var resource = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new ProtoReader(data);
        while (reader.Next(out var field, out var wire))
        {
            if (field == 1 && wire == ProtoReader.Len)
            {
                var resourceReader = new ProtoReader(reader.ReadBytes());
                while (resourceReader.Next(out var f, out var w))
                {
                    if (f == 1 && w == ProtoReader.Len)
                    {
                        ReadKeyValue(resourceReader.ReadBytes(), resource);
                    }
                    else
                    {
                        resourceReader.Skip(w);
                    }
                }
            }
            else
            {
                reader.Skip(wire);
            }
        }

        var service = resource.GetValueOrDefault("service.name", "");
        reader = new ProtoReader(data);
        while (reader.Next(out var field, out var wire))
        {
            if (field == 2 && wire == ProtoReader.Len)
            {
                DecodeScopeSpans(reader.ReadBytes(), service, result);
            }
            else
            {
                reader.Skip(wire);
            }
        }
    }

    private static void DecodeScopeSpans(ReadOnlySpan<byte> data, string service, List<ReceivedSpan> result)
    {
        var scope = "";
        var reader = new ProtoReader(data);
        while (reader.Next(out var field, out var wire))
        {
            if (field == 1 && wire == ProtoReader.Len)
            {
                var scopeReader = new ProtoReader(reader.ReadBytes());
                while (scopeReader.Next(out var f, out var w))
                {
                    if (f == 1 && w == ProtoReader.Len)
                    {
                        scope = scopeReader.ReadString();
                    }
                    else
                    {
                        scopeReader.Skip(w);
                    }
                }
            }
            else
            {
                reader.Skip(wire);
            }
        }

        reader = new ProtoReader(data);
        while (reader.Next(out var field, out var wire))
        {
            if (field == 2 && wire == ProtoReader.Len)
            {
                result.Add(DecodeSpan(reader.ReadBytes(), service, scope));
            }
            else
            {
                reader.Skip(wire);
            }
        }
    }

    private static ReceivedSpan DecodeSpan(ReadOnlySpan<byte> data, string service, string scope)
    {
        string traceId = "", spanId = "", name = "", statusMessage = "";
        string? parent = null;
        int kind = 0, statusCode = 0;
        ulong start = 0, end = 0;
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new ProtoReader(data);
        while (reader.Next(out var field, out var wire))
        {
            switch (field, wire)
            {
                case (1, ProtoReader.Len):
                    traceId = Convert.ToHexStringLower(reader.ReadBytes());
                    break;
                case (2, ProtoReader.Len):
                    spanId = Convert.ToHexStringLower(reader.ReadBytes());
                    break;
                case (4, ProtoReader.Len):
                    var parentBytes = reader.ReadBytes();
                    parent = parentBytes.ContainsAnyExcept((byte)0) ? Convert.ToHexStringLower(parentBytes) : null;
                    break;
                case (5, ProtoReader.Len):
                    name = reader.ReadString();
                    break;
                case (6, ProtoReader.Varint):
                    kind = (int)reader.ReadVarint();
                    break;
                case (7, ProtoReader.Fixed64):
                    start = reader.ReadFixed64();
                    break;
                case (8, ProtoReader.Fixed64):
                    end = reader.ReadFixed64();
                    break;
                case (9, ProtoReader.Len):
                    ReadKeyValue(reader.ReadBytes(), attributes);
                    break;
                case (15, ProtoReader.Len):
                    var status = new ProtoReader(reader.ReadBytes());
                    while (status.Next(out var f, out var w))
                    {
                        switch (f, w)
                        {
                            case (2, ProtoReader.Len): statusMessage = status.ReadString(); break;
                            case (3, ProtoReader.Varint): statusCode = (int)status.ReadVarint(); break;
                            default: status.Skip(w); break;
                        }
                    }

                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        if (statusCode != 0)
        {
            attributes["otel.status_code"] = statusCode == 1 ? "OK" : "ERROR";
            if (statusMessage.Length > 0)
            {
                attributes["otel.status_description"] = statusMessage;
            }
        }

        return new ReceivedSpan(service, scope, traceId, spanId, parent, name, kind, FromUnixNanos(start), FromUnixNanos(end), attributes);
    }

    private static DateTimeOffset FromUnixNanos(ulong nanos) => DateTimeOffset.UnixEpoch.AddTicks((long)(nanos / 100));

    private static void ReadKeyValue(ReadOnlySpan<byte> data, Dictionary<string, string> into)
    {
        string key = "", value = "";
        var reader = new ProtoReader(data);
        while (reader.Next(out var field, out var wire))
        {
            switch (field, wire)
            {
                case (1, ProtoReader.Len): key = reader.ReadString(); break;
                case (2, ProtoReader.Len): value = ReadAnyValue(reader.ReadBytes()); break;
                default: reader.Skip(wire); break;
            }
        }

        into[key] = value;
    }

    private static string ReadAnyValue(ReadOnlySpan<byte> data)
    {
        var value = "";
        var reader = new ProtoReader(data);
        while (reader.Next(out var field, out var wire))
        {
            switch (field, wire)
            {
                case (1, ProtoReader.Len): value = reader.ReadString(); break;
                case (2, ProtoReader.Varint): value = reader.ReadVarint() != 0 ? "true" : "false"; break;
                case (3, ProtoReader.Varint): value = ((long)reader.ReadVarint()).ToString(CultureInfo.InvariantCulture); break;
                case (4, ProtoReader.Fixed64): value = BitConverter.UInt64BitsToDouble(reader.ReadFixed64()).ToString("R", CultureInfo.InvariantCulture); break;
                case (5, ProtoReader.Len): value = ReadArrayValue(reader.ReadBytes()); break;
                case (7, ProtoReader.Len): value = Convert.ToBase64String(reader.ReadBytes()); break;
                default: reader.Skip(wire); break; // kvlist_value is not rendered
            }
        }

        return value;
    }

    private static string ReadArrayValue(ReadOnlySpan<byte> data)
    {
        var items = new List<string>();
        var reader = new ProtoReader(data);
        while (reader.Next(out var field, out var wire))
        {
            if (field == 1 && wire == ProtoReader.Len)
            {
                items.Add(ReadAnyValue(reader.ReadBytes()));
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return "[" + string.Join(",", items) + "]";
    }

    private sealed class EmbeddedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Protobuf wire-format reader over a span; unknown fields are skipped by the callers.</summary>
    private ref struct ProtoReader(ReadOnlySpan<byte> data)
    {
        public const int Varint = 0, Fixed64 = 1, Len = 2, Fixed32 = 5;

        private ReadOnlySpan<byte> rest = data;

        public bool Next(out int field, out int wireType)
        {
            field = wireType = 0;
            if (rest.IsEmpty)
            {
                return false;
            }

            var tag = ReadVarint();
            field = (int)(tag >> 3);
            wireType = (int)(tag & 7);
            return field > 0 ? true : throw new InvalidDataException("Protobuf field number 0.");
        }

        public ulong ReadVarint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = Take(1)[0];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw new InvalidDataException("Protobuf varint longer than 10 bytes.");
        }

        public ulong ReadFixed64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

        public uint ReadFixed32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        public ReadOnlySpan<byte> ReadBytes()
        {
            var length = ReadVarint();
            return length <= (ulong)rest.Length ? Take((int)length) : throw new InvalidDataException("Protobuf length beyond the message.");
        }

        public string ReadString() => Encoding.UTF8.GetString(ReadBytes());

        public void Skip(int wireType)
        {
            switch (wireType)
            {
                case Varint: ReadVarint(); break;
                case Fixed64: ReadFixed64(); break;
                case Len: ReadBytes(); break;
                case Fixed32: ReadFixed32(); break;
                default: throw new InvalidDataException($"Unsupported protobuf wire type {wireType}.");
            }
        }

        private ReadOnlySpan<byte> Take(int count)
        {
            if (rest.Length < count)
            {
                throw new InvalidDataException("Protobuf message truncated.");
            }

            var taken = rest[..count];
            rest = rest[count..];
            return taken;
        }
    }
}
