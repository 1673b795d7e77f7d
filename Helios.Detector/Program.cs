using Helios.Detector.Detection;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddDetection();

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();

public partial class Program;
