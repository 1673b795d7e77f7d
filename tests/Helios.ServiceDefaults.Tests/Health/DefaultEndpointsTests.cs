using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;

namespace Helios.ServiceDefaults.Tests.Health;

[Collection(InfrastructureCollection.Name)]
public sealed class DefaultEndpointsTests(InfrastructureFixture infra)
{
    [Fact]
    public async Task MapDefaultEndpoints_RealServer_HealthChecksInfrastructure_AndMetricsPassPromtool()
    {
        var database = await infra.NewDatabaseConnectionStringAsync();
        var port = Helios.AppHost.Hosting.DistributedApplication.FreePortForTests();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = "defaults-test" });
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Configuration["ConnectionStrings:helios"] = database;
        builder.Configuration["ConnectionStrings:kafka"] = infra.Kafka.BootstrapServers;
        builder.AddServiceDefaults();
        await using var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGet("/hello", () => "hi");
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        JsonElement health = default;
        for (var i = 0; i < 60; i++)
        {
            using var response = await http.GetAsync("/health");
            health = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            if (response.StatusCode == HttpStatusCode.OK)
            {
                break;
            }

            await Task.Delay(500);
        }

        Assert.Equal("Healthy", health.GetProperty("status").GetString());
        foreach (var check in (string[])["postgresql", "schema", "kafka", "self"])
        {
            Assert.Equal("Healthy", health.GetProperty("checks").GetProperty(check).GetProperty("status").GetString());
        }

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/alive")).StatusCode);
        Assert.Equal("hi", await http.GetStringAsync("/hello"));
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("http_server_request_duration_seconds_bucket", metrics, StringComparison.Ordinal);

        var promtool = new ProcessStartInfo("promtool", "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(promtool) ?? throw new InvalidOperationException("promtool missing: apt-get install prometheus");
        await process.StandardInput.WriteAsync(metrics);
        process.StandardInput.Close();
        var lint = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, lint);
        await app.StopAsync();
    }
}
