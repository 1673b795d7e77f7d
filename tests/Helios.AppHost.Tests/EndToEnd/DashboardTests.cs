using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Helios.Core.Events;
using Helios.Core.Synthetic;
using Microsoft.Playwright;

namespace Helios.AppHost.Tests.EndToEnd;

[Collection(StackCollection.Name)]
public sealed class DashboardTests(StackFixture stack)
{
    private const string ChromiumPath = "/usr/bin/chromium";
    // A service no other test uses, so the new alert is this test's own.
    private static readonly SyntheticService Checkout = new("checkout-service", 0.10, 4.4, 0.5, 0.005,
        ["/api/v1/checkout", "/api/v1/checkout/{id}", "/api/v1/checkout/cart", "/api/v1/checkout/health"]);

    /// <summary>
    /// The home page shows the API's alert total; an error storm published while it is open
    /// raises an alert and the count follows through polling, without reloading the page.
    /// </summary>
    [Fact]
    public async Task HomePage_NewAlert_CountUpdatesWithoutReload()
    {
        // Playwright's own browser download does not work here: Debian's Chromium is the browser.
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} not found: install it with `apt-get install chromium`.");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
        await using var context = await browser.NewContextAsync(new() { BaseURL = stack.App.GetEndpoint("web").ToString() });
        var page = await context.NewPageAsync();

        var response = await page.GotoAsync("/");
        Assert.Equal((int)HttpStatusCode.OK, response?.Status);
        var count = page.Locator("#alert-count");
        var initial = await ReadCountAsync(count);
        Assert.Equal(await ApiTotalAsync(), initial);

        // Set after load: a reload or navigation would wipe it; also count main-frame navigations from here on.
        await page.EvaluateAsync("window.__heliosMarker = 1");
        var navigations = 0;
        page.FrameNavigated += (_, frame) => navigations += frame == page.MainFrame ? 1 : 0;

        await TestTraffic.PublishAsync(stack.Api, TestTraffic.WithStorm([Checkout], Checkout.Name, stack.ReserveStart(), windows: 2, stormWindow: 1, seed: 4242));

        await page.WaitForFunctionAsync(
            "initial => Number(document.getElementById('alert-count').textContent) > initial",
            initial,
            new() { Timeout = 90_000, PollingInterval = 500 });
        // Alerts from one drain can land between two polls: the page may briefly lag the API by one poll (2 s).
        await PipelineTests.Eventually(async () => await ReadCountAsync(count) == await ApiTotalAsync(), "page count equal to the API total", seconds: 10);
        Assert.True(await ReadCountAsync(count) > initial);
        var ours = await stack.Api.GetFromJsonAsync<JsonElement>($"/api/v1/alerts?service={Checkout.Name}");
        Assert.True(ours.GetProperty("total").GetInt64() >= 1, $"no alert for {Checkout.Name} through the API");

        Assert.Equal(1, await page.EvaluateAsync<int?>("window.__heliosMarker"));
        Assert.Equal(0, navigations);

        var screenshot = Path.Combine(AppContext.BaseDirectory, "dashboard.png");
        await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true });
        Assert.True(new FileInfo(screenshot).Length > 0, $"empty screenshot at {screenshot}");
    }

    private static async Task<long> ReadCountAsync(ILocator count) =>
        long.Parse((await count.TextContentAsync())!.Trim(), CultureInfo.InvariantCulture);

    private async Task<long> ApiTotalAsync() =>
        (await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/alerts?limit=1")).GetProperty("total").GetInt64();

}
