using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Helios.AppHost.Hosting;

/// <summary>
/// librdkafka's built-in mock cluster (a Kafka-wire-protocol broker) hosted in this process, reachable on a
/// stable address through a TCP forwarder to broker 1. Data lives in memory only: a new instance starts empty.
/// </summary>
public sealed partial class KafkaMockCluster : IDisposable
{
    // Debian's file by its path: the Kafka clients' packaged librdkafka 2.16 has the same soname (librdkafka.so.1), and
    // dlopen of the bare soname would hand back that one if a client had loaded it first.
    private const string Library = "/usr/lib/x86_64-linux-gnu/librdkafka.so.1";

    private readonly IntPtr _rk;
    private readonly IntPtr _mcluster;
    private readonly GCHandle _loggerHandle;
    private readonly TcpListener _listener;
    private readonly IPEndPoint _broker1;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _acceptLoop;
    private readonly Lock _gate = new();
    private bool _disposed;

    private KafkaMockCluster(IntPtr rk, IntPtr mcluster, GCHandle loggerHandle, TcpListener listener, string internalBootstraps, ILogger logger)
    {
        _rk = rk;
        _mcluster = mcluster;
        _loggerHandle = loggerHandle;
        _listener = listener;
        _logger = logger;
        InternalBootstrapServers = internalBootstraps;
        BootstrapServers = $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        _broker1 = IPEndPoint.Parse(internalBootstraps.Split(',')[0]);
        _acceptLoop = AcceptLoopAsync(_stopping.Token);
    }

    /// <summary>The stable address clients bootstrap through: 127.0.0.1:&lt;advertisedPort&gt;.</summary>
    public string BootstrapServers { get; }

    /// <summary>The brokers' real (random) addresses, as the mock reports them and clients learn from metadata.</summary>
    public string InternalBootstrapServers { get; }

    /// <param name="advertisedPort">Port of the forwarder clients bootstrap through; 0 picks a free one.</param>
    public static KafkaMockCluster Start(int advertisedPort, ILogger logger, int brokers = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        var listener = new TcpListener(IPAddress.Loopback, advertisedPort);
        try
        {
            listener.Start(backlog: 128);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied)
        {
            throw new InvalidOperationException(
                $"Cannot start the Kafka dev broker: port {advertisedPort} on 127.0.0.1 is not available ({ex.SocketErrorCode}). " +
                "Stop whatever listens there or choose another port with the setting AppHost:Ports:<kafka resource> " +
                "(environment AppHost__Ports__kafka=<port>).", ex);
        }

        var loggerHandle = GCHandle.Alloc(logger);
        IntPtr rk = IntPtr.Zero, mcluster = IntPtr.Zero;
        KafkaMockCluster cluster;
        try
        {
            rk = NewHandle(GCHandle.ToIntPtr(loggerHandle));
            mcluster = rd_kafka_mock_cluster_new(rk, brokers);
            if (mcluster == IntPtr.Zero)
            {
                throw new InvalidOperationException("rd_kafka_mock_cluster_new failed (see the librdkafka log lines above).");
            }

            // Owned by the mock cluster: copy, never free.
            var bootstraps = Marshal.PtrToStringUTF8(rd_kafka_mock_cluster_bootstraps(mcluster))!;
            cluster = new KafkaMockCluster(rk, mcluster, loggerHandle, listener, bootstraps, logger);
        }
        catch
        {
            listener.Stop();
            if (mcluster != IntPtr.Zero)
            {
                rd_kafka_mock_cluster_destroy(mcluster);
            }

            if (rk != IntPtr.Zero)
            {
                rd_kafka_destroy(rk);
            }

            loggerHandle.Free();
            throw;
        }

        logger.LogInformation("Kafka dev broker (librdkafka mock, {Brokers} broker(s)) at {Bootstrap}, forwarding to broker 1 at {Broker1}; brokers at {Internal}",
            brokers, cluster.BootstrapServers, cluster._broker1, cluster.InternalBootstrapServers);
        return cluster;
    }

    /// <summary>Creates a topic in the mock (admin CreateTopics times out against it). Throws if it exists already.</summary>
    public void CreateTopic(string name, int partitions, int replicationFactor = 1)
    {
        int err;
        lock (_gate)
        {
            // Under the lock: a topic call racing Dispose would use a destroyed cluster and crash the process.
            ObjectDisposedException.ThrowIf(_disposed, this);
            err = rd_kafka_mock_topic_create(_mcluster, name, partitions, replicationFactor);
        }

        if (err != 0)
        {
            throw new InvalidOperationException(
                $"Creating topic '{name}' ({partitions} partitions, replication {replicationFactor}) failed: error {err} ({Marshal.PtrToStringUTF8(rd_kafka_err2str(err))}).");
        }

        _logger.LogInformation("Kafka dev broker: topic {Topic} created with {Partitions} partition(s)", name, partitions);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _stopping.Cancel();
            _listener.Stop();
            _acceptLoop.Wait(TimeSpan.FromSeconds(5)); // never faults: the loop catches everything

            // The cluster uses the handle (logging, queues): destroy it first. Both calls join librdkafka's threads,
            // so no log callback can arrive after the logger handle is freed.
            rd_kafka_mock_cluster_destroy(_mcluster);
            rd_kafka_destroy(_rk);
            _loggerHandle.Free();
        }

        _logger.LogInformation("Kafka dev broker at {Bootstrap} stopped", BootstrapServers);
    }

    private static unsafe IntPtr NewHandle(IntPtr loggerHandle)
    {
        IntPtr conf;
        try
        {
            conf = rd_kafka_conf_new();
        }
        catch (DllNotFoundException ex)
        {
            throw new InvalidOperationException(
                $"{Library} not found: the Kafka dev broker needs Debian's librdkafka (apt-get install librdkafka1).", ex);
        }

        rd_kafka_conf_set_opaque(conf, loggerHandle);
        rd_kafka_conf_set_log_cb(conf, &OnLog);
        const int errSize = 512;
        var errstr = stackalloc byte[errSize];
        if (rd_kafka_conf_set(conf, "client.id", "helios-kafka-mock", errstr, errSize) != 0)
        {
            rd_kafka_conf_destroy(conf);
            throw new InvalidOperationException($"rd_kafka_conf_set failed: {Marshal.PtrToStringUTF8((IntPtr)errstr)}");
        }

        // On success rd_kafka_new owns conf; on failure it stays ours.
        var rk = rd_kafka_new(0, conf, errstr, errSize);
        if (rk == IntPtr.Zero)
        {
            rd_kafka_conf_destroy(conf);
            throw new InvalidOperationException($"rd_kafka_new failed: {Marshal.PtrToStringUTF8((IntPtr)errstr)}");
        }

        return rk;
    }

    // Called on librdkafka threads. A function pointer to a static method can never be collected, and an
    // exception escaping here would kill the process, hence the catch-all.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLog(IntPtr rk, int level, IntPtr facility, IntPtr message)
    {
        try
        {
            var opaque = rd_kafka_opaque(rk);
            if (opaque == IntPtr.Zero || GCHandle.FromIntPtr(opaque).Target is not ILogger logger)
            {
                return;
            }

            // syslog levels: 0-3 error, 4 warning, 5 notice and above are chatter from the mock's own client handle.
            var logLevel = level <= 3 ? LogLevel.Error : level == 4 ? LogLevel.Warning : LogLevel.Debug;
            logger.Log(logLevel, "librdkafka {Facility}: {Message}", Marshal.PtrToStringUTF8(facility), Marshal.PtrToStringUTF8(message));
        }
        catch
        {
            // Never let a logging failure unwind into native code.
        }
    }

    private async Task AcceptLoopAsync(CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var client = await _listener.AcceptSocketAsync(ct);
                _ = ForwardAsync(client, ct);
            }
        }
        catch (Exception ex) when (ct.IsCancellationRequested || ex is ObjectDisposedException)
        {
            // Stopping.
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Kafka dev broker forwarder on {Bootstrap} stopped accepting connections", BootstrapServers);
        }
    }

    private async Task ForwardAsync(Socket client, CancellationToken ct)
    {
        using var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using (client)
        {
            try
            {
                client.NoDelay = upstream.NoDelay = true;
                await upstream.ConnectAsync(_broker1, ct);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                if (!ct.IsCancellationRequested)
                {
                    _logger.LogWarning(ex, "Kafka dev broker forwarder cannot reach broker 1 at {Broker1}", _broker1);
                }

                return;
            }

            var pumps = new[] { PumpAsync(client, upstream, ct), PumpAsync(upstream, client, ct) };
            await Task.WhenAny(pumps);
            // Either side ended: close both so the other pump ends too (with an error, which is expected).
            client.Close();
            upstream.Close();
            try
            {
                await Task.WhenAll(pumps);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
            {
            }
        }
    }

    private static async Task PumpAsync(Socket from, Socket to, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0)
            {
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, ct);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [LibraryImport(Library)]
    private static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(Library)]
    private static partial void rd_kafka_conf_destroy(IntPtr conf);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte* errstr, nuint errstrSize);

    [LibraryImport(Library)]
    private static partial void rd_kafka_conf_set_opaque(IntPtr conf, IntPtr opaque);

    [LibraryImport(Library)]
    private static unsafe partial void rd_kafka_conf_set_log_cb(IntPtr conf, delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr, IntPtr, void> logCb);

    [LibraryImport(Library)]
    private static partial IntPtr rd_kafka_opaque(IntPtr rk);

    [LibraryImport(Library)]
    private static unsafe partial IntPtr rd_kafka_new(int type, IntPtr conf, byte* errstr, nuint errstrSize);

    [LibraryImport(Library)]
    private static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(Library)]
    private static partial IntPtr rd_kafka_err2str(int err);

    [LibraryImport(Library)]
    private static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    // Returns a string owned by the cluster, so IntPtr rather than string (the marshaller would free it).
    [LibraryImport(Library)]
    private static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr mcluster);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rd_kafka_mock_topic_create(IntPtr mcluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(Library)]
    private static partial void rd_kafka_mock_cluster_destroy(IntPtr mcluster);
}
