using Helios.AppHost.Hosting;

var builder = DistributedApplication.CreateBuilder(args);

var postgres = builder.AddPostgres("postgres", port: 15432);
var helios = postgres.AddDatabase("helios");

var kafka = builder.AddKafka("kafka", port: 19092)
    .WithTopic("events", partitions: 8)
    .WithTopic("anomaly-alerts", partitions: 4)
    .WithTopic("events.dlq", partitions: 1);

var api = builder.AddProject("api", Projects.Api, port: 5080)
    .WithReference(helios).WaitFor(helios)
    .WithReference(kafka).WaitFor(kafka);

var detector = builder.AddProject("detector", Projects.Detector, port: 5081)
    // The GC sizes its young generation from the last-level cache the machine reports (300 MiB on this VM): a
    // small budget keeps it in cache under a steady stream. Measured by `bench -- pipeline` with 10,000 services:
    // 32 MiB against the default, 183,000 vs 143,000 events/s and 299 vs 333 MB peak RSS; since the loop reads
    // librdkafka's buffers in place (far less garbage per event), 16 MiB against 32: 310,800 vs 274,700-300,300
    // events/s and 272 vs 317-322 MB (8 MiB: 286,100 and 269 MB). Environment only: the runtime reads no config file for it.
    .WithEnvironment("DOTNET_GCgen0size", "0x1000000")
    // glibc gives each thread that allocates its own malloc arena (librdkafka's broker threads allocate the messages the
    // loop frees): two arenas cut the detector's native memory from about 109 to 72 MB with detection and storage on
    // (peak RSS 307.6 against 335.3 MB in `bench -- pipeline --phases both`, events/s within the noise). A fixed mmap
    // threshold (glibc's default of 128 KiB, which it otherwise raises to the largest block freed) keeps librdkafka's
    // fetch buffers out of the arenas, so they go back to the system when freed: peak RSS 263-275 MB for detection and
    // 297-300 with both paths, against 277-311 and 291-322 with the arenas alone (`bench -- pipeline`, 2026-12-02).
    .WithEnvironment("MALLOC_ARENA_MAX", "2")
    .WithEnvironment("MALLOC_MMAP_THRESHOLD_", "131072")
    .WithReference(helios).WaitFor(helios)
    .WithReference(kafka).WaitFor(kafka);

// librdkafka allocates every fetched message on its broker thread and the consume loop frees it: glibc's malloc then
// takes an arena lock on both sides of every message (7-10 % of the detector's CPU, with futex waits). tcmalloc's
// per-thread caches move such memory between threads in batches: detection 292,200-312,900 against 270,200-296,900
// events/s, 277,000-312,000 against 236,000-280,000 per detector CPU-second (`bench -- pipeline --phases detect`,
// five runs each, 2026-12-02; `--glibc-malloc` compares). Debian's libtcmalloc-minimal4 (run.sh and test.sh install it); without it, glibc.
if (NativeAllocator.Tcmalloc() is { } tcmalloc)
{
    detector.WithEnvironment("LD_PRELOAD", tcmalloc);
}

builder.AddProject("optimizer", Projects.Optimizer, port: 5082)
    .WithReference(helios).WaitFor(helios)
    .WithReference(kafka).WaitFor(kafka);

builder.AddProject("web", Projects.Web, port: 5000)
    .WithReference(api).WaitFor(api);

await builder.Build().RunAsync();
