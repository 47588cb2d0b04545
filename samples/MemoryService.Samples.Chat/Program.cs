// A console chat with long-term memory: Semantic Kernel over an OpenAI-compatible model, MemoryService adding the
// user's context to each turn and learning from it, and the memory plugin for remember / recall / forget.
// Configured like the service (docs: README "Chat model"): Llm__BaseUrl (with /v1), Llm__Model, Llm__ApiKey;
// plus Memory__Url (default http://127.0.0.1:8080/), Memory__ApiKey and Memory__UserId (default alice).
// `dotnet run -- sdk` runs the "Use from C#" example instead.
using System.ClientModel;
using MemoryService.Client;
using MemoryService.SemanticKernel;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;
using OpenAI;

static string Setting(string name, string? fallback = null) =>
    Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v
    : fallback ?? throw new InvalidOperationException($"Set {name}.");

var memoryUrl = new Uri(Setting("Memory__Url", "http://127.0.0.1:8080/"));
var memoryApiKey = Setting("Memory__ApiKey");
var user = Setting("Memory__UserId", "alice");
if (args is ["sdk"])
{
    await Examples.UseFromCSharpAsync(memoryUrl, memoryApiKey);
    return;
}
var modelBaseUrl = new Uri(Setting("Llm__BaseUrl"));
var model = Setting("Llm__Model");
var modelApiKey = Setting("Llm__ApiKey", "none");

var memory = MemoryServiceClient.Create(memoryUrl, memoryApiKey);
var openAi = new OpenAIClient(new ApiKeyCredential(modelApiKey), new OpenAIClientOptions { Endpoint = modelBaseUrl });

var builder = Kernel.CreateBuilder();
builder.AddOpenAIChatCompletion(model, openAi);
builder.AddMemoryServiceChat(memory, new MemoryChatOptions { UserId = user, TokenBudget = 500 }); // context in, learning out
builder.Plugins.AddMemoryServicePlugin(memory, user);                                           // remember, recall, forget
var kernel = builder.Build();

var settings = new OpenAIPromptExecutionSettings { FunctionChoiceBehavior = FunctionChoiceBehavior.Auto() };
var history = new ChatHistory("You are a helpful assistant.");
var chat = kernel.GetRequiredService<IChatCompletionService>();
Console.WriteLine($"Chatting as {user}; an empty line ends.");
while (Console.ReadLine() is { Length: > 0 } line)
{
    history.AddUserMessage(line);
    var reply = await chat.GetChatMessageContentAsync(history, settings, kernel);
    history.Add(reply);
    Console.WriteLine(reply.Content);
}
