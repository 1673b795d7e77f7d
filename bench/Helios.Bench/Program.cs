using Helios.Bench;

// dotnet run -c Release --project bench/Helios.Bench -- <odds|score|train|chaos|nab|all>
// Each benchmark prints a table; the LAST line is one JSON object with its figures.
return await BenchmarkRunner.RunAsync(args);
