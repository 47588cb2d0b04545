using System.Collections.Concurrent;
using MemoryService.Learning;
using MemoryService.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace MemoryService.Tests.Chat;

/// <summary>The service with its model replaced by a <see cref="FakeOpenAiServer"/>, started before the host.</summary>
public sealed class ChatApiFactory : FakeOpenAiApiFactory
{
    public FakeOpenAiServer Model => Fake;

    /// <summary>What chat handed to the learner, by user id.</summary>
    public RecordingLearner Learner { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(s => s.AddSingleton<IConversationLearner>(Learner));
    }

    protected override void UseServer(Uri baseUrl)
    {
        Settings["Llm:Provider"] = "openai";
        Settings["Llm:BaseUrl"] = baseUrl.ToString();
        Settings["Llm:Model"] = "test-model";
        Settings["Llm:AllowedModels:0"] = "gpt-x"; // a client may name it
        Settings["Llm:TimeoutSeconds"] = "2";
        Settings["Llm:MaxRetries"] = "0";
    }
}

public sealed class RecordingLearner : IConversationLearner
{
    public ConcurrentDictionary<string, IReadOnlyList<ConversationMessage>> Seen { get; } = new();

    /// <summary>The observed_at each user's exchange was learned with (its offset is the user's local clock).</summary>
    public ConcurrentDictionary<string, DateTimeOffset> ObservedAt { get; } = new();

    public Task<LearningOutcome> LearnAsync(Guid tenantId, string userId, IReadOnlyList<ConversationMessage> messages,
        DateTimeOffset observedAt, bool dryRun, string actor, WriteGuard? guard = null, CancellationToken cancellationToken = default,
        string? conversation = null)
    {
        ObservedAt[userId] = observedAt;
        Seen[userId] = messages;
        return Task.FromResult(new LearningOutcome([], []));
    }
}
