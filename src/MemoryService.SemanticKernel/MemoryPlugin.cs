using System.ComponentModel;
using System.Text;
using MemoryService.Client;
using Microsoft.SemanticKernel;

namespace MemoryService.SemanticKernel;

/// <summary>
/// Kernel functions over one user's memories in MemoryService, described so a model can call them by itself
/// (automatic function calling): <c>remember</c>, <c>recall</c> and <c>forget</c>.
/// </summary>
public sealed class MemoryPlugin(MemoryServiceClient client, string userId)
{
    /// <summary>The name the plugin is usually registered under.</summary>
    public const string DefaultName = "memory";

    /// <summary>Most memories <c>recall</c> returns.</summary>
    public const int MaxRecall = 20;

    [KernelFunction("remember")]
    [Description("Save a lasting fact about the user or one of their preferences so it is known in future conversations. Use it when the user states something about themselves worth keeping.")]
    [return: Description("Confirmation with the id of the stored memory.")]
    public async Task<string> RememberAsync(
        [Description("The memory as one short statement in the third person, e.g. \"Prefers window seats\".")] string content,
        [Description("\"preference\" for likes, dislikes and wishes; \"fact\" for anything else about the user.")] string kind = "fact",
        CancellationToken cancellationToken = default)
    {
        var memoryKind = string.Equals(kind, "preference", StringComparison.OrdinalIgnoreCase) ? MemoryKind.Preference : MemoryKind.Fact;
        var created = await client.CreateMemoryAsync(userId, new CreateMemoryRequest { Content = content, Kind = memoryKind },
            cancellationToken: cancellationToken).ConfigureAwait(false);
        return $"Remembered (id {created.Id}): {created.Content}";
    }

    [KernelFunction("recall")]
    [Description("Search what is known about the user: their preferences, facts and past events relevant to a question. Returns one memory per line with its id.")]
    [return: Description("Matching memories, best first, as \"- [id] content\" lines, or a line saying nothing is known.")]
    public async Task<string> RecallAsync(
        [Description("What to look for, in plain words, e.g. \"seat preference\" or \"pets\".")] string query,
        [Description("How many memories to return at most (1-20).")] int limit = 5,
        CancellationToken cancellationToken = default)
    {
        var found = await client.SearchMemoriesAsync(userId, new SearchRequest { Query = query, Limit = Math.Clamp(limit, 1, MaxRecall) },
            cancellationToken).ConfigureAwait(false);
        if (found.Items.Count == 0) return "Nothing is known about that.";
        var lines = new StringBuilder();
        foreach (var hit in found.Items) lines.Append("- [").Append(hit.Memory.Id).Append("] ").AppendLine(hit.Memory.Content);
        return lines.ToString().TrimEnd();
    }

    [KernelFunction("forget")]
    [Description("Delete one memory about the user, by the id that recall returned. Use it when the user asks to forget something or says it is no longer true.")]
    [return: Description("Whether the memory was deleted.")]
    public async Task<string> ForgetAsync(
        [Description("The memory's id, as shown in brackets by recall.")] string memoryId,
        CancellationToken cancellationToken = default)
    {
        if (!Guid.TryParse(memoryId, out var id)) return $"\"{memoryId}\" is not a memory id; call recall to find the id.";
        try
        {
            await client.DeleteMemoryAsync(userId, id, cancellationToken: cancellationToken).ConfigureAwait(false);
            return $"Forgot memory {id}.";
        }
        catch (MemoryServiceProblemException e) when (e.Status == 404)
        {
            return $"No memory with id {id}.";
        }
    }
}
