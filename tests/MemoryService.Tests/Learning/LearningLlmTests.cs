using System.Text.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Learning;

/// <summary>The service with an OpenAI-compatible chat model: a real local fake server scripted per test.</summary>
public class LlmApiFactory : FakeOpenAiApiFactory
{
    public FakeOpenAiServer Llm => Fake;

    protected override void UseServer(Uri baseUrl)
    {
        Settings["Llm:Provider"] = "openai";
        Settings["Llm:BaseUrl"] = baseUrl.ToString();
        Settings["Llm:Model"] = "fake-model";
        Settings["Llm:MaxRetries"] = "0";
    }
}

public sealed class LearningLlmTests(LlmApiFactory factory) : IClassFixture<LlmApiFactory>
{
    private const string Chat = "/v1/chat/completions";

    [Fact]
    public async Task MalformedReplyIsRetriedOnceAndTheValidOneIsWritten()
    {
        factory.Llm.Reset();
        using var tenant = await factory.NewTenantAsync();
        var user = LearningApiTests.NewUser();
        factory.Llm.EnqueueChatReply("{\"memories\": [ oops", Memories(("fact", "Is vegetarian", "diet")));

        var outcome = await LearningApiTests.LearnAsync(tenant, user, "I'm vegetarian.");

        var decision = Assert.Single(LearningApiTests.Decisions(outcome));
        Assert.Equal("add", decision.GetProperty("action").GetString());
        Assert.Empty(outcome.GetProperty("failed").EnumerateArray());
        var requests = factory.Llm.RequestsTo(Chat);
        Assert.Equal(2, requests.Count);
        var format = requests[0].Json.GetProperty("response_format");
        Assert.Equal("json_schema", format.GetProperty("type").GetString());
        Assert.True(format.GetProperty("json_schema").GetProperty("schema").GetProperty("properties").TryGetProperty("memories", out _));
        Assert.Equal(1L, await factory.QueryScalarAsync<long>(
            "SELECT count(*) FROM memories WHERE tenant_id = $1 AND user_id = $2 AND source = 'inferred'", tenant.TenantId, user));
    }

    [Fact]
    public async Task ReplyThatStaysMalformedIsReportedAsFailedAndNothingIsWritten()
    {
        factory.Llm.Reset();
        using var tenant = await factory.NewTenantAsync();
        var user = LearningApiTests.NewUser();
        factory.Llm.EnqueueChatReply("not json", "{\"still\": \"wrong\"}");

        var outcome = await LearningApiTests.LearnAsync(tenant, user, "I'm vegetarian.");

        Assert.Empty(LearningApiTests.Decisions(outcome));
        var failed = Assert.Single(outcome.GetProperty("failed").EnumerateArray());
        Assert.Contains("unusable", failed.GetProperty("reason").GetString());
        Assert.Equal(2, factory.Llm.RequestsTo(Chat).Count);
        Assert.Equal(0L, await factory.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", tenant.TenantId));
    }

    [Fact]
    public async Task InvalidItemIsReportedWhileValidOnesAreKept()
    {
        factory.Llm.Reset();
        using var tenant = await factory.NewTenantAsync();
        var user = LearningApiTests.NewUser();
        factory.Llm.EnqueueChatReply("""
            {"memories": [
              {"kind": "fact", "content": "Has a cat", "key": "pet:cat", "importance": 0.5, "confidence": 0.9, "event_date": null, "evidence": "I have a cat"},
              {"kind": "opinion", "content": "Thinks cats rule", "key": "likes:cats", "importance": 0.5, "confidence": 0.9, "event_date": null, "evidence": "cats rule"},
              {"kind": "fact", "content": "  ", "key": "x", "importance": 1.5, "confidence": 0.9, "event_date": null, "evidence": ""}
            ]}
            """);

        var outcome = await LearningApiTests.LearnAsync(tenant, user, "I have a cat. Cats rule.");

        Assert.Equal("Has a cat", Assert.Single(LearningApiTests.Decisions(outcome)).GetProperty("candidate").GetProperty("content").GetString());
        Assert.Equal(2, outcome.GetProperty("failed").GetArrayLength());
        Assert.Equal(1L, await factory.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", tenant.TenantId));
    }

    [Fact]
    public async Task ModelDecisionNamingAnUnshownIdFallsBackToTheRules()
    {
        factory.Llm.Reset();
        using var tenant = await factory.NewTenantAsync();
        var user = LearningApiTests.NewUser();
        factory.Llm.EnqueueChatReply(Memories(("fact", "Is vegetarian", "diet")));
        var vegetarianId = LearningApiTests.Decisions(await LearningApiTests.LearnAsync(tenant, user, "I'm vegetarian."))[0]
            .GetProperty("memory_ids")[0].GetGuid();
        var invented = Guid.NewGuid();
        factory.Llm.Reset();
        factory.Llm.EnqueueChatReply(Memories(("fact", "Is pescatarian", "diet")),
            $$"""{"decisions": [{"candidate": 0, "event": "NONE", "id": "{{invented}}", "reason": "same diet"}]}""");

        var outcome = await LearningApiTests.LearnAsync(tenant, user, "I'm pescatarian now.");

        var decision = Assert.Single(LearningApiTests.Decisions(outcome));
        Assert.Equal("supersede", decision.GetProperty("action").GetString());
        Assert.Contains("rejected", decision.GetProperty("reason").GetString());
        Assert.Contains(invented.ToString(), decision.GetProperty("reason").GetString());
        var requests = factory.Llm.RequestsTo(Chat);
        Assert.Equal(2, requests.Count);
        Assert.Contains(vegetarianId.ToString(), requests[1].Body); // the decision prompt showed the real id
        Assert.Equal(1L, await factory.QueryScalarAsync<long>(
            "SELECT count(*) FROM memories WHERE tenant_id = $1 AND valid_to IS NULL", tenant.TenantId));
        Assert.Equal("Is pescatarian", await factory.QueryScalarAsync<string>(
            "SELECT content FROM memories WHERE tenant_id = $1 AND valid_to IS NULL", tenant.TenantId));
        Assert.Equal(0L, await factory.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE id = $1", invented));
    }

    [Fact]
    public async Task ValidModelDecisionIsApplied()
    {
        factory.Llm.Reset();
        using var tenant = await factory.NewTenantAsync();
        var user = LearningApiTests.NewUser();
        factory.Llm.EnqueueChatReply(Memories(("preference", "Likes hiking", "likes:hiking")));
        var hikingId = LearningApiTests.Decisions(await LearningApiTests.LearnAsync(tenant, user, "I like hiking."))[0]
            .GetProperty("memory_ids")[0].GetGuid();
        factory.Llm.EnqueueChatReply(Memories(("preference", "Enjoys hiking in the hills", "likes:hiking")),
            $$"""{"decisions": [{"candidate": 0, "event": "NONE", "id": "{{hikingId}}", "reason": "already known"}]}""");

        var outcome = await LearningApiTests.LearnAsync(tenant, user, "I enjoy hiking in the hills.");

        var decision = Assert.Single(LearningApiTests.Decisions(outcome));
        Assert.Equal("noop", decision.GetProperty("action").GetString());
        Assert.Equal(hikingId, decision.GetProperty("memory_ids")[0].GetGuid());
        Assert.StartsWith("model:", decision.GetProperty("reason").GetString());
        Assert.Equal(1L, await factory.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", tenant.TenantId));
    }

    [Fact]
    public async Task LaterCandidateOnTheSameKeyInOneCallWins()
    {
        factory.Llm.Reset();
        using var tenant = await factory.NewTenantAsync();
        var user = LearningApiTests.NewUser();
        factory.Llm.EnqueueChatReply(Memories(("preference", "Prefers coffee", "drink_preference"), ("preference", "Prefers tea", "drink_preference")));

        var outcome = await LearningApiTests.LearnAsync(tenant, user, "I drink coffee. No wait, tea these days.");

        Assert.Equal(["add", "supersede"], LearningApiTests.Decisions(outcome).Select(d => d.GetProperty("action").GetString()).ToList());
        Assert.Equal("Prefers tea", await factory.QueryScalarAsync<string>(
            "SELECT content FROM memories WHERE tenant_id = $1 AND valid_to IS NULL", tenant.TenantId));
        Assert.Equal(2L, await factory.QueryScalarAsync<long>("SELECT count(*) FROM memories WHERE tenant_id = $1", tenant.TenantId));
    }

    private static string Memories(params (string Kind, string Content, string Key)[] items) => JsonSerializer.Serialize(new
    {
        memories = items.Select(i => new
        {
            kind = i.Kind, content = i.Content, key = i.Key, importance = 0.7, confidence = 0.9, event_date = (string?)null, evidence = i.Content,
        }),
    });
}
