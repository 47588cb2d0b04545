using MemoryService.Chat;
using MemoryService.Context;
using MemoryService.Data;
using MemoryService.Embeddings;
using MemoryService.Graph;
using MemoryService.Explorer;
using MemoryService.Hosting;
using MemoryService.Learning;
using MemoryService.Lifecycle;
using MemoryService.Llm;
using MemoryService.Mcp;
using MemoryService.Memories;
using MemoryService.Retrieval;
using MemoryService.Tenancy;
using MemoryService.Users;
using MemoryService.Webhooks;

var builder = WebApplication.CreateBuilder(args);

builder.AddAppLogging();
builder.AddProblems();
builder.AddApiConventions();
builder.AddDatabase();
builder.AddTenancy();
builder.AddEmbeddings();
builder.AddMemories();
builder.AddRetrieval();
builder.AddLlm();
builder.AddLearning();
builder.AddContext();
builder.AddChat();
builder.AddMcp();
builder.AddWebhooks();
builder.AddLifecycle();
builder.AddGraph();

var app = builder.Build();

app.UseProblems();
app.UseBodySizeLimit();
app.UseRequestLogging();
app.UseTenantAuthentication();
app.UseInputGuard();
app.MapApiDocs();
app.MapHealth();
app.MapAdmin();
app.MapUsers();
app.MapMemories();
app.MapRetrieval();
app.MapLearning();
app.MapContext();
app.MapChat();
app.MapMcpServer();
app.MapSettings();
app.MapWebhooks();
app.MapLifecycle();
app.MapGraph();
app.MapExplorer();

app.Run();

public partial class Program;
