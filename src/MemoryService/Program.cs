using MemoryService.Data;
using MemoryService.Hosting;

var builder = WebApplication.CreateBuilder(args);

builder.AddAppLogging();
builder.AddProblems();
builder.AddApiConventions();
builder.AddDatabase();

var app = builder.Build();

app.UseProblems();
app.UseRequestLogging();
app.MapApiDocs();
app.MapHealth();

app.Run();

public partial class Program;
