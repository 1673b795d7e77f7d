using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Helios.AppHost.Telemetry;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Helios.AppHost.Tests.Telemetry;

public sealed class OtlpTraceReceiverTests
{
    [Fact]
    public async Task StartAsync_OtlpHttpProtobufExport_StoresParentAndChildSpans()
    {
        await using var receiver = await OtlpTraceReceiver.StartAsync(0, CancellationToken.None);
        var notified = new List<ReceivedSpan>();
        receiver.SpanReceived += span => { lock (notified) { notified.Add(span); } };
        using var source = new ActivitySource("test");
        var provider = Sdk.CreateTracerProviderBuilder()
            .AddSource("test")
            .ConfigureResource(r => r.AddService("svc-a"))
            .AddOtlpExporter(o =>
            {
                o.Endpoint = new Uri(receiver.Endpoint, "/v1/traces");
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
            })
            .Build();

        string traceId, parentId, childId;
        using (var parent = source.StartActivity("GET /orders", ActivityKind.Server))
        {
            Assert.NotNull(parent);
            parent.SetTag("http.route", "/orders");
            parent.SetTag("http.response.status_code", 200);
            parent.SetTag("cached", true);
            using var child = source.StartActivity("SELECT orders", ActivityKind.Client);
            Assert.NotNull(child);
            child.SetTag("db.system", "postgresql");
            child.SetTag("db.rows", -3L);
            child.SetTag("retry", false);
            child.SetStatus(ActivityStatusCode.Error, "timeout");
            (traceId, parentId, childId) = (parent.TraceId.ToHexString(), parent.SpanId.ToHexString(), child.SpanId.ToHexString());
        }

        Assert.True(provider.ForceFlush(10_000));
        provider.Dispose();

        var spans = receiver.Spans.Where(s => s.TraceId == traceId).ToArray();
        Assert.Equal(2, spans.Length);
        var server = Assert.Single(spans, s => s.SpanId == parentId);
        var client = Assert.Single(spans, s => s.SpanId == childId);
        Assert.Matches("^[0-9a-f]{32}$", server.TraceId);
        Assert.Matches("^[0-9a-f]{16}$", server.SpanId);

        Assert.Equal("svc-a", server.ServiceName);
        Assert.Equal("test", server.Scope);
        Assert.Equal("GET /orders", server.Name);
        Assert.Null(server.ParentSpanId);
        Assert.Equal(2, server.Kind);
        Assert.Equal("/orders", server.Attributes["http.route"]);
        Assert.Equal("200", server.Attributes["http.response.status_code"]);
        Assert.Equal("true", server.Attributes["cached"]);
        Assert.True(server.End >= server.Start);
        Assert.InRange(server.Start, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow);

        Assert.Equal("svc-a", client.ServiceName);
        Assert.Equal("SELECT orders", client.Name);
        Assert.Equal(parentId, client.ParentSpanId);
        Assert.Equal(3, client.Kind);
        Assert.Equal("postgresql", client.Attributes["db.system"]);
        Assert.Equal("-3", client.Attributes["db.rows"]);
        Assert.Equal("false", client.Attributes["retry"]);
        Assert.Equal("ERROR", client.Attributes["otel.status_code"]);
        Assert.Equal("timeout", client.Attributes["otel.status_description"]);
        lock (notified)
        {
            Assert.Equal(2, notified.Count(s => s.TraceId == traceId));
        }
    }

    [Fact]
    public async Task StartAsync_OtherSignalsAndBadRequests_AnsweredPerOtlpHttp()
    {
        await using var receiver = await OtlpTraceReceiver.StartAsync(0, CancellationToken.None);
        using var http = new HttpClient { BaseAddress = receiver.Endpoint };

        using var metrics = await http.PostAsync("/v1/metrics", Protobuf([0x0A, 0x00]));
        using var logs = await http.PostAsync("/v1/logs", Protobuf([]));
        using var traces = await http.PostAsync("/v1/traces", Protobuf([]));
        using var garbage = await http.PostAsync("/v1/traces", Protobuf([0x0A, 0x05, 0x01]));
        using var json = await http.PostAsync("/v1/traces", new StringContent("{}", MediaTypeHeaderValue.Parse("application/json")));
        using var unknown = await http.PostAsync("/v1/profiles", Protobuf([]));

        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Equal(HttpStatusCode.OK, logs.StatusCode);
        Assert.Equal(HttpStatusCode.OK, traces.StatusCode);
        Assert.Equal("application/x-protobuf", traces.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await traces.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, json.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Empty(receiver.Spans);
    }

    [Fact]
    public void Decode_HandEncodedRequest_ReadsFieldsAndSkipsUnknownOnes()
    {
        var traceId = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
        var span = Message(
            Bytes(1, traceId),
            Bytes(2, [0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x00, 0x11]),
            Bytes(4, [0, 0, 0, 0, 0, 0, 0, 1]),
            Bytes(5, "work"u8.ToArray()),
            Varint(6, 5),
            Fixed64(7, 1_700_000_000_000_000_100),
            Fixed64(8, 1_700_000_001_000_000_000),
            Bytes(9, KeyValue("n", Varint(3, unchecked((ulong)-42L)))),
            Bytes(9, KeyValue("d", Fixed64(4, BitConverter.DoubleToUInt64Bits(2.5)))),
            Bytes(9, KeyValue("a", Bytes(5, Message(Bytes(1, Bytes(1, "x"u8.ToArray())), Bytes(1, Varint(3, 7)))))),
            Varint(10, 3), // dropped_attributes_count: unknown here, skipped
            Fixed32(99, 12345),
            Bytes(15, Message(Bytes(2, "ok"u8.ToArray()), Varint(3, 1))));
        var scopeSpans = Message(Bytes(2, span), Bytes(1, Message(Bytes(1, "scope-x"u8.ToArray()), Bytes(2, "1.0"u8.ToArray()))));
        // Resource after scope_spans on purpose: field order is free in protobuf.
        var resourceSpans = Message(Bytes(2, scopeSpans), Bytes(1, Message(Bytes(1, KeyValue("service.name", Bytes(1, "svc-b"u8.ToArray()))))));
        var request = Message(Bytes(1, resourceSpans));

        var decoded = Assert.Single(OtlpTraceReceiver.Decode(request));

        Assert.Equal("svc-b", decoded.ServiceName);
        Assert.Equal("scope-x", decoded.Scope);
        Assert.Equal("0102030405060708090a0b0c0d0e0f10", decoded.TraceId);
        Assert.Equal("aabbccddeeff0011", decoded.SpanId);
        Assert.Equal("0000000000000001", decoded.ParentSpanId);
        Assert.Equal("work", decoded.Name);
        Assert.Equal(5, decoded.Kind);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000).AddTicks(1), decoded.Start);
        Assert.Equal(TimeSpan.FromSeconds(1) - TimeSpan.FromTicks(1), decoded.End - decoded.Start);
        Assert.Equal("-42", decoded.Attributes["n"]);
        Assert.Equal("2.5", decoded.Attributes["d"]);
        Assert.Equal("[x,7]", decoded.Attributes["a"]);
        Assert.Equal("OK", decoded.Attributes["otel.status_code"]);
        Assert.Equal("ok", decoded.Attributes["otel.status_description"]);
    }

    [Fact]
    public void Decode_TruncatedMessage_ThrowsInvalidData()
    {
        Assert.Throws<InvalidDataException>(() => OtlpTraceReceiver.Decode([0x0A, 0x10, 0x12]));
    }

    private static ByteArrayContent Protobuf(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        return content;
    }

    private static byte[] Message(params byte[][] fields) => fields.SelectMany(f => f).ToArray();

    private static byte[] KeyValue(string key, byte[] anyValue) => Message(Bytes(1, System.Text.Encoding.UTF8.GetBytes(key)), Bytes(2, anyValue));

    private static byte[] Bytes(int field, byte[] value) => Message(VarintBytes((ulong)(field << 3 | 2)), VarintBytes((ulong)value.Length), value);

    private static byte[] Varint(int field, ulong value) => Message(VarintBytes((ulong)(field << 3)), VarintBytes(value));

    private static byte[] Fixed64(int field, ulong value) => Message(VarintBytes((ulong)(field << 3 | 1)), BitConverter.GetBytes(value));

    private static byte[] Fixed32(int field, uint value) => Message(VarintBytes((ulong)(field << 3 | 5)), BitConverter.GetBytes(value));

    private static byte[] VarintBytes(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? b : (byte)(b | 0x80));
        }
        while (value != 0);
        return [.. bytes];
    }
}
