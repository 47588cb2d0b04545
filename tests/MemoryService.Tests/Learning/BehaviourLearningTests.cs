using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;
using static MemoryService.Tests.Learning.LearningApiTests;

namespace MemoryService.Tests.Learning;

/// <summary>
/// Preferences learned from behaviour through POST /v1/users/{user_id}/memories/extract: a request about answers
/// repeated across conversations becomes a standing preference on the third conversation (Learning:BehaviourRepeats),
/// counted in PostgreSQL, and a later explicit statement supersedes it.
/// </summary>
public sealed class BehaviourLearningTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task ShorterPleaseInThreeConversationsBecomesAPreferenceThenAnExplicitStatementSupersedesIt()
    {
        using var tenant = await factory.NewTenantAsync();
        var user = NewUser();

        // 1st conversation, sent twice (the app re-sends it with the same id): counted once, nothing learned
        var first = await ConverseAsync(tenant, user, "conv-a", "Can you make that shorter, please?");
        Assert.Empty(Decisions(first));
        Assert.Empty(Decisions(await ConverseAsync(tenant, user, "conv-a", "Can you make that shorter, please?")));
        Assert.Equal(1L, await SightingsAsync(tenant, user, "response_length"));

        // 2nd conversation: still not a preference
        Assert.Empty(Decisions(await ConverseAsync(tenant, user, "conv-b", "Way too long. Keep it short.")));
        Assert.Equal(2L, await SightingsAsync(tenant, user, "response_length"));
        Assert.Equal(0L, await CurrentAsync(tenant, user, "response_length"));

        // 3rd conversation: promoted, with the three turns as evidence
        var third = await ConverseAsync(tenant, user, "conv-c", "shorter, please");
        var promoted = Assert.Single(Decisions(third));
        Assert.Equal("promote", promoted.GetProperty("action").GetString());
        Assert.Equal("response_length", promoted.GetProperty("candidate").GetProperty("key").GetString());
        Assert.Equal("Prefers short answers", promoted.GetProperty("candidate").GetProperty("content").GetString());
        var supporting = promoted.GetProperty("supporting").EnumerateArray().ToList();
        Assert.Equal(["conv-a", "conv-b", "conv-c"], supporting.Select(s => s.GetProperty("conversation_id").GetString()));
        Assert.Equal(["Can you make that shorter, please?", "Way too long. Keep it short.", "shorter, please"],
            supporting.Select(s => s.GetProperty("text").GetString()));
        var preferenceId = Assert.Single(promoted.GetProperty("memory_ids").EnumerateArray()).GetGuid();

        var memory = await ApiFactory.ReadAsync<JsonElement>(await tenant.Http.GetAsync($"/v1/users/{user}/memories/{preferenceId}"));
        Assert.Equal("preference", memory.GetProperty("kind").GetString());
        Assert.Equal("behaviour", memory.GetProperty("metadata").GetProperty("learned_from").GetString());
        Assert.Equal(3, memory.GetProperty("metadata").GetProperty("evidence").GetArrayLength());
        Assert.Equal(1L, await CurrentAsync(tenant, user, "response_length"));
        Assert.Equal(0L, await SightingsAsync(tenant, user, "response_length")); // the count starts afresh

        // the preference is served like any other
        var search = await ApiFactory.ReadAsync<JsonElement>(await tenant.Http.PostAsJsonAsync($"/v1/users/{user}/memories/search",
            new { query = "short answers" }, ApiFactory.Json));
        Assert.Contains(search.GetProperty("items").EnumerateArray(), h => h.GetProperty("memory").GetProperty("id").GetGuid() == preferenceId);

        // an explicit statement on the same key supersedes it by the ordinary rules
        var stated = Assert.Single(Decisions(await ConverseAsync(tenant, user, "conv-d", "From now on, give me detailed answers.")));
        Assert.Equal("supersede", stated.GetProperty("action").GetString());
        Assert.Equal("response_length", stated.GetProperty("candidate").GetProperty("key").GetString());
        var ids = stated.GetProperty("memory_ids").EnumerateArray().Select(x => x.GetGuid()).ToList();
        Assert.Equal(preferenceId, ids[1]);
        var old = await ApiFactory.ReadAsync<JsonElement>(await tenant.Http.GetAsync($"/v1/users/{user}/memories/{preferenceId}"));
        Assert.Equal(ids[0], old.GetProperty("superseded_by").GetGuid());
        Assert.NotEqual(JsonValueKind.Null, old.GetProperty("valid_to").ValueKind);
        Assert.Equal(1L, await CurrentAsync(tenant, user, "response_length"));
    }

    [Fact]
    public async Task AskingForSpanishIsCountedPerConversationAndADryRunWritesNothing()
    {
        using var tenant = await factory.NewTenantAsync();
        var user = NewUser();
        Assert.Empty(Decisions(await ConverseAsync(tenant, user, null, "Please reply in Spanish.")));
        Assert.Empty(Decisions(await ConverseAsync(tenant, user, null, "Can you answer in Spanish?")));
        // a different request on another key does not add to Spanish
        Assert.Empty(Decisions(await ConverseAsync(tenant, user, null, "Answer in French this time.")));

        var dry = Assert.Single(Decisions(await ConverseAsync(tenant, user, null, "Spanish, please", dryRun: true)));
        Assert.Equal("promote", dry.GetProperty("action").GetString());
        Assert.Equal("Prefers answers in Spanish", dry.GetProperty("candidate").GetProperty("content").GetString());
        Assert.Equal(0L, await CurrentAsync(tenant, user, "response_language"));
        Assert.Equal(3L, await SightingsAsync(tenant, user, "response_language")); // two Spanish, one French: the dry run added none

        var real = Assert.Single(Decisions(await ConverseAsync(tenant, user, null, "Spanish, please")));
        Assert.Equal("promote", real.GetProperty("action").GetString());
        Assert.Equal(3, real.GetProperty("supporting").GetArrayLength());
        Assert.Equal(1L, await CurrentAsync(tenant, user, "response_language"));
    }

    [Fact]
    public async Task ABlankConversationIdIsA400AndErasureDropsTheCounts()
    {
        using var tenant = await factory.NewTenantAsync();
        var user = NewUser();
        var bad = await tenant.Http.PostAsJsonAsync($"/v1/users/{user}/memories/extract", new
        {
            messages = new[] { new { role = "user", content = "shorter please" } },
            conversation_id = " ",
        }, ApiFactory.Json);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(0L, await SightingsAsync(tenant, user, "response_length"));

        await ConverseAsync(tenant, user, null, "Too long, shorter please.");
        Assert.Equal(1L, await SightingsAsync(tenant, user, "response_length"));
        Assert.Equal(HttpStatusCode.NoContent, (await tenant.Http.DeleteAsync($"/v1/users/{user}")).StatusCode);
        Assert.Equal(0L, await SightingsAsync(tenant, user, "response_length"));
    }

    private static async Task<JsonElement> ConverseAsync(TenantClient tenant, string user, string? conversation, string said, bool dryRun = false) =>
        await ApiFactory.ReadAsync<JsonElement>(await tenant.Http.PostAsJsonAsync($"/v1/users/{user}/memories/extract", new
        {
            messages = new[]
            {
                new { role = "user", content = "What is a good way to learn to cook?" },
                new { role = "assistant", content = "Start with a few simple recipes and cook them often until they feel natural." },
                new { role = "user", content = said },
            },
            dry_run = dryRun,
            conversation_id = conversation,
        }, ApiFactory.Json));

    private Task<long> SightingsAsync(TenantClient tenant, string user, string key) => factory.QueryScalarAsync<long>(
        "SELECT count(*) FROM behaviour_signals WHERE tenant_id = $1 AND user_id = $2 AND key = $3", tenant.TenantId, user, key);

    private Task<long> CurrentAsync(TenantClient tenant, string user, string key) => factory.QueryScalarAsync<long>(
        "SELECT count(*) FROM memories WHERE tenant_id = $1 AND user_id = $2 AND key = $3 AND valid_to IS NULL AND status = 'active'",
        tenant.TenantId, user, key);
}

/// <summary>
/// Preferences learned from behaviour through chat with <c>learn: true</c> and the model extractor (a fake OpenAI
/// server that finds no explicit memory): each exchange is a learning job, and the exchanges of one chat (the same first
/// user turn) count as one conversation.
/// </summary>
public sealed class ChatBehaviourLearningTests(LearningJobsApiFactory factory) : IClassFixture<LearningJobsApiFactory>
{
    [Fact]
    public async Task ARequestRepeatedInOneChatCountsOnceAndThreeChatsMakeAPreference()
    {
        factory.Llm.ChatReply = body => LearningJobsTests.IsExtraction(body) ? """{"memories": []}""" : "ok";
        using var t = await factory.NewTenantAsync();
        const string user = "chatty";

        // one chat, three exchanges asking for shorter answers: one conversation
        var turns = new List<object> { new { role = "user", content = "How do I make bread?" } };
        for (var i = 0; i < 3; i++)
        {
            turns.Add(new { role = "assistant", content = "A long answer about flour, water, yeast and time." });
            turns.Add(new { role = "user", content = "Too long. Shorter, please." });
            await ChatAsync(t, user, turns);
        }
        await LearningJobsTests.WaitForAsync(async () => await PendingJobsAsync(t, user) == 0);
        Assert.Equal(1L, await factory.QueryScalarAsync<long>(
            "SELECT count(*) FROM behaviour_signals WHERE tenant_id = $1 AND user_id = $2 AND key = 'response_length'", t.TenantId, user));
        Assert.Equal(0L, await PreferencesAsync(t, user));

        // two more chats that start differently: the third conversation makes the preference
        foreach (var opening in new[] { "What is a good houseplant?", "Explain compound interest." })
            await ChatAsync(t, user, [new { role = "user", content = opening }, new { role = "assistant", content = "A long answer." },
                new { role = "user", content = "Keep it short." }]);
        await LearningJobsTests.WaitForAsync(async () => await PreferencesAsync(t, user) == 1);
        var metadata = await factory.QueryScalarAsync<string>(
            "SELECT metadata::text FROM memories WHERE tenant_id = $1 AND user_id = $2 AND key = 'response_length'", t.TenantId, user);
        Assert.Contains("\"learned_from\": \"behaviour\"", metadata);
        Assert.Equal("Prefers short answers", await factory.QueryScalarAsync<string>(
            "SELECT content FROM memories WHERE tenant_id = $1 AND user_id = $2 AND key = 'response_length'", t.TenantId, user));
    }

    private static async Task ChatAsync(TenantClient t, string user, List<object> turns) =>
        await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsJsonAsync($"/v1/users/{user}/chat", new { learn = true, messages = turns }, ApiFactory.Json));

    private Task<long> PendingJobsAsync(TenantClient t, string user) => factory.QueryScalarAsync<long>(
        "SELECT count(*) FROM learning_jobs WHERE tenant_id = $1 AND user_id = $2", t.TenantId, user);

    private Task<long> PreferencesAsync(TenantClient t, string user) => factory.QueryScalarAsync<long>(
        "SELECT count(*) FROM memories WHERE tenant_id = $1 AND user_id = $2 AND key = 'response_length' AND valid_to IS NULL", t.TenantId, user);
}
