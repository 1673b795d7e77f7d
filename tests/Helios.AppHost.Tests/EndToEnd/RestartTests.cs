using Helios.AppHost.Hosting;

namespace Helios.AppHost.Tests.EndToEnd;

[Collection(StackCollection.Name)]
public sealed class RestartTests(StackFixture stack)
{
    [Fact]
    public async Task CrashedService_KilledHard_IsRestartedAndHealthyAgain()
    {
        var optimizer = (ProjectResource)stack.App["optimizer"];
        var before = optimizer.ProcessId!.Value;
        var restarts = optimizer.Restarts;
        System.Diagnostics.Process.GetProcessById(before).Kill();

        await PipelineTests.Eventually(() => Task.FromResult(optimizer.Restarts > restarts && optimizer.State == ResourceState.Healthy), "optimizer restarted and healthy", seconds: 60);
        Assert.NotEqual(before, optimizer.ProcessId);
        using var client = stack.App.CreateHttpClient("optimizer");
        Assert.True((await client.GetAsync("/health")).IsSuccessStatusCode);
    }
}
