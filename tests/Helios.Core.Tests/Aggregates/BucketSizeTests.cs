using Helios.Core.Aggregates;

namespace Helios.Core.Tests.Aggregates;

public sealed class BucketSizeTests
{
    [Theory]
    [InlineData("1m", 1)]
    [InlineData("5m", 5)]
    [InlineData("15M", 15)]
    [InlineData("90m", 90)]
    [InlineData("1h", 60)]
    [InlineData("6h", 360)]
    [InlineData("24h", 1440)]
    [InlineData("1d", 1440)]
    public void TryParse_DividesADay_Minutes(string text, int minutes)
    {
        Assert.True(BucketSize.TryParse(text, out var bucket));
        Assert.Equal(TimeSpan.FromMinutes(minutes), bucket);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("m")]
    [InlineData("0m")]
    [InlineData("-5m")]
    [InlineData("+5m")]
    [InlineData("7m")]
    [InlineData("5h")]
    [InlineData("2d")]
    [InlineData("5s")]
    [InlineData("5 m")]
    [InlineData("99999999999m")]
    public void TryParse_NotAWholeDivisorOfADay_Refused(string? text) =>
        Assert.False(BucketSize.TryParse(text, out _));

    [Fact]
    public void Floor_AlignsToUtcMidnight_WhateverTheOffset()
    {
        var local = new DateTimeOffset(2026, 3, 2, 10, 7, 31, TimeSpan.FromHours(2));
        Assert.Equal(new DateTimeOffset(2026, 3, 2, 8, 5, 0, TimeSpan.Zero), BucketSize.Floor(local, TimeSpan.FromMinutes(5)));
        Assert.Equal(new DateTimeOffset(2026, 3, 2, 6, 0, 0, TimeSpan.Zero), BucketSize.Floor(local, TimeSpan.FromHours(6)));
        Assert.Equal(new DateTimeOffset(2026, 3, 2, 0, 0, 0, TimeSpan.Zero), BucketSize.Floor(local, TimeSpan.FromDays(1)));
    }
}
