using MemoryService.Chat;
using MemoryService.Context;
using MemoryService.Data;
using MemoryService.Embeddings;
using MemoryService.Explorer;
using MemoryService.Hosting;
using MemoryService.Learning;
using MemoryService.Llm;
using MemoryService.Memories;
using MemoryService.Retrieval;
using MemoryService.Tenancy;
using MemoryService.Users;

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
app.MapExplorer();

app.Run();

public partial class Program;
