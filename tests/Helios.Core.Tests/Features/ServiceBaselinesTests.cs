using Helios.Core.Features;
using Helios.Core.Synthetic;

namespace Helios.Core.Tests.Features;

public class ServiceBaselinesTests
{
    [Fact]
    public void Fit_SyntheticDay_LearnsRateErrorsAndLatencyOfEachService()
    {
        var start = new DateTimeOffset(2026, 4, 6, 0, 0, 0, TimeSpan.Zero);
        var windows = SyntheticTraffic.Windows(SyntheticTraffic.Generate(start, start.AddDays(2), 4, 3), TimeSpan.FromMinutes(5), start.AddDays(2));
        var baselines = ServiceBaselines.Fit(windows.Select(w => (w.Service, w.Start, w.End, w.Events)));
        Assert.Equal(8, baselines.Services.Count);
        foreach (var s in SyntheticTraffic.Services)
        {
            var b = baselines.For(s.Name, start.AddHours(14), start.AddHours(14).AddMinutes(5))!.Value;
            // Peak hour: 4 events/s * share * 2.5 seasonality * 300 s.
            Assert.InRange(b.ExpectedEvents / (4 * s.Share * 2.5 * 300), 0.9, 1.1);
            Assert.InRange(b.LatencyP50 / Math.Exp(s.LatencyMu), 0.9, 1.1);
            Assert.InRange(b.LatencyP95 / Math.Exp(s.LatencyMu + (1.645 * s.LatencySigma)), 0.9, 1.1);
            Assert.InRange(b.ErrorRate, Math.Max(s.ErrorRate * 0.5, 0.001), s.ErrorRate * 1.5);
        }
    }

    [Fact]
    public void ExpectedEvents_BetweenHourCentres_Interpolates()
    {
        var rates = new double[24];
        rates[10] = 10;
        rates[11] = 20;
        var b = new ServiceBaseline("svc", rates, 0.01, 50, 100);
        var day = new DateTimeOffset(2026, 4, 6, 0, 0, 0, TimeSpan.Zero);
        // A window centred on 11:00 is halfway between the centres of hours 10 and 11.
        Assert.Equal(15 * 2, b.ExpectedEvents(day.AddHours(11).AddMinutes(-1), day.AddHours(11).AddMinutes(1)), 9);
        Assert.Equal(10 * 5, b.ExpectedEvents(day.AddHours(10).AddMinutes(27.5), day.AddHours(10).AddMinutes(32.5)), 9);
    }
}
