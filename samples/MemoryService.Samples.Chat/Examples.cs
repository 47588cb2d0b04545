using MemoryService.Client;
using MemoryService.SemanticKernel;
using Microsoft.Extensions.AI;
using OpenAI;

/// <summary>The README's examples, compiled with the sample.</summary>
internal static class Examples
{
    public static async Task UseFromCSharpAsync(Uri memoryUrl, string apiKey)
    {
        var memory = MemoryServiceClient.Create(memoryUrl, apiKey);

        var created = await memory.CreateMemoryAsync("alice",
            new CreateMemoryRequest { Content = "Prefers window seats", Kind = MemoryKind.Preference });
        var got = await memory.GetMemoryAsync("alice", created.Id); // .Result, and .ETag() for If-Match
        try
        {
            await memory.UpdateMemoryAsync("alice", created.Id, new PatchMemoryRequest { Importance = 0.9 }, if_Match: got.ETag());
        }
        catch (MemoryServiceProblemException problem) when (problem.Status == 412)
        {
            Console.WriteLine($"Changed meanwhile ({problem.Title}, trace {problem.TraceId}): read it again.");
        }
        var hits = await memory.SearchMemoriesAsync("alice", new SearchRequest { Query = "where to sit" });
        var context = await memory.BuildContextAsync("alice", new ContextRequest { Query = "book a flight", TokenBudget = 300 });
        Console.WriteLine(context.SystemPrompt);
        Console.WriteLine($"{hits.Items.Count} hit(s)");
    }

    public static IChatClient UseWithChatClient(OpenAIClient openAi, string model, MemoryServiceClient memory)
    {
        IChatClient chat = new ChatClientBuilder(openAi.GetChatClient(model).AsIChatClient())
            .UseMemoryService(memory, new MemoryChatOptions { UserId = "alice" })
            .Build();
        return chat;
    }
}
