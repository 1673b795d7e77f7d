using Helios.Web.Components;
using Helios.Web.Services;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.Services.AddRazorComponents();
builder.AddApiClients();

var app = builder.Build();
app.UseStaticFiles();
app.UseAntiforgery();
app.MapDefaultEndpoints();
app.MapLiveEndpoints();
app.MapRazorComponents<App>();
app.Run();

public partial class Program;
