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

builder.AddProject("detector", Projects.Detector, port: 5081)
    .WithReference(helios).WaitFor(helios)
    .WithReference(kafka).WaitFor(kafka);

builder.AddProject("optimizer", Projects.Optimizer, port: 5082)
    .WithReference(helios).WaitFor(helios)
    .WithReference(kafka).WaitFor(kafka);

builder.AddProject("web", Projects.Web, port: 5000)
    .WithReference(api).WaitFor(api);

await builder.Build().RunAsync();
