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

    private static readonly SyntheticService Storefront = new("storefront-service", 0.10, 4.4, 0.5, 0.005,
        ["/shop", "/shop/{id}", "/shop/search", "/shop/health"]);

    /// <summary>
    /// The home page shows the API's alert total; an error storm published while it is open
    /// raises an alert and the count follows through polling, without reloading the page.
    /// </summary>
    [Fact]
    public async Task HomePage_NewAlert_CountUpdatesWithoutReload()
    {
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await OpenHomeAsync(browser);
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

    /// <summary>
    /// The overview's traffic cards and chart come from the stored per-minute aggregates (through the API): traffic
    /// published while the page is open moves the hour shown to its event time, and the page follows without reloading.
    /// </summary>
    [Fact]
    public async Task HomePage_NewTraffic_TrafficCardsAndChartFollowWithoutReload()
    {
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await OpenHomeAsync(browser);
        await page.EvaluateAsync("window.__heliosMarker = 1");

        // The newest event time on the stack: the overview's hour ends with it.
        var start = stack.ReserveStart();
        var events = TestTraffic.WithStorm([Storefront], stormy: "none", start, windows: 2, stormWindow: 1, seed: 4343);
        await TestTraffic.PublishAsync(stack.Api, events);

        var expected = events.Count.ToString(CultureInfo.InvariantCulture);
        await page.WaitForFunctionAsync(
            "expected => document.getElementById('events-last-hour').textContent.trim() === expected",
            expected,
            new() { Timeout = 90_000, PollingInterval = 500 });
        Assert.Equal("1", (await page.Locator("#service-count").TextContentAsync())!.Trim());
        // The range ends after the minute of the last event (the tick at start + 11 min).
        var end = start.AddMinutes(12);
        Assert.Equal($"{end.AddHours(-1):yyyy-MM-dd HH:mm} to {end:HH:mm} UTC", (await page.Locator("#chart-range").TextContentAsync())!.Trim());

        // 60 bars, one per minute; the busiest is full height, and the ten minutes of traffic are not empty.
        var heights = await page.EvaluateAsync<double[]>("[...document.querySelectorAll('#events-chart .bar')].map(b => parseFloat(b.style.height))");
        Assert.Equal(60, heights.Length);
        Assert.Equal(100, heights.Max());
        Assert.All(heights[^12..^2], h => Assert.True(h > 0, $"an empty bar among the traffic minutes: {string.Join(' ', heights)}"));

        var api = await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/events/minutes?minutes=60");
        Assert.Equal(events.Count, api.GetProperty("events").GetInt64());
        Assert.Equal(1, await page.EvaluateAsync<int?>("window.__heliosMarker"));
    }

    private static Task<IBrowser> LaunchAsync(IPlaywright playwright)
    {
        // Playwright's own browser download does not work here: Debian's Chromium is the browser.
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} not found: install it with `apt-get install chromium`.");
        return playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
    }

    private async Task<IPage> OpenHomeAsync(IBrowser browser)
    {
        var context = await browser.NewContextAsync(new() { BaseURL = stack.App.GetEndpoint("web").ToString() });
        var page = await context.NewPageAsync();
        var response = await page.GotoAsync("/");
        Assert.Equal((int)HttpStatusCode.OK, response?.Status);
        return page;
    }

    private static async Task<long> ReadCountAsync(ILocator count) =>
        long.Parse((await count.TextContentAsync())!.Trim(), CultureInfo.InvariantCulture);

    private async Task<long> ApiTotalAsync() =>
        (await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/alerts?limit=1")).GetProperty("total").GetInt64();

}
