using Helios.Bench;

// dotnet run -c Release --project bench/Helios.Bench -- <odds|score|train|chaos|nab|all|pipeline>
// `all` runs every benchmark but `pipeline`, which starts the whole stack (PostgreSQL, broker, detector process):
// dotnet run -c Release --project bench/Helios.Bench -- pipeline [--seconds 60] (see PipelineOptions for the rest).
// Each benchmark prints a table; the LAST line is one JSON object with its figures.
Helios.ServiceDefaults.Kafka.Librdkafka.Register(); // the Kafka clients here run on the detector's librdkafka too
return await BenchmarkRunner.RunAsync(args);
