using MemoryService.Client;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Sdk;

/// <summary>The generated C# SDK (src/MemoryService.Client) against the live service over HTTP.</summary>
public sealed class CSharpSdkTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task CreatedAndBatchCreatedMemoriesAreListedPageByPageWithTheCursor()
    {
        var sdk = await factory.NewSdkTenantAsync();
        var user = SdkTenants.NewUser();

        var one = await sdk.CreateMemoryAsync(user, new CreateMemoryRequest { Content = "Prefers window seats", Kind = MemoryKind.Preference, Tags = ["travel"] });
        var batch = await sdk.CreateMemoriesBatchAsync(user, new BatchCreateRequest
        {
            Items = [new() { Content = "Has a dog named Rex", Kind = MemoryKind.Fact }, new() { Content = "Lives in Lisbon", Kind = MemoryKind.Fact }],
        });

        Assert.Equal(MemoryKind.Preference, one.Kind);
        Assert.Equal(["travel"], one.Tags);
        Assert.Equal(2, batch.Items.Count);

        var seen = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await sdk.ListMemoriesAsync(user, limit: 2, cursor: cursor);
            Assert.True(page.Items.Count <= 2);
            seen.AddRange(page.Items.Select(m => m.Id));
            cursor = page.NextCursor;
        } while (cursor is not null && ++pages < 10);

        Assert.Equal(2, pages + (cursor is null ? 1 : 0));
        Assert.Equal(new[] { one.Id }.Concat(batch.Items.Select(m => m.Id)).Order(), seen.Order());
    }

    [Fact]
    public async Task ConditionalPatchWithAStaleETagIsATypedPreconditionFailed()
    {
        var sdk = await factory.NewSdkTenantAsync();
        var user = SdkTenants.NewUser();
        var created = await sdk.CreateMemoryAsync(user, new CreateMemoryRequest { Content = "Likes green tea", Kind = MemoryKind.Preference });

        var got = await sdk.GetMemoryAsync(user, created.Id);
        var etag = got.ETag();
        Assert.False(string.IsNullOrEmpty(etag));
        Assert.Equal("Likes green tea", got.Result.Content);

        var updated = await sdk.UpdateMemoryAsync(user, created.Id, new PatchMemoryRequest { Importance = 0.9 }, if_Match: etag);
        Assert.Equal(0.9, updated.Result.Importance, 3);
        Assert.Equal("Likes green tea", updated.Result.Content); // unset fields are not sent, so not cleared
        Assert.NotEqual(etag, updated.ETag());

        var stale = await Assert.ThrowsAsync<MemoryServiceProblemException>(() =>
            sdk.UpdateMemoryAsync(user, created.Id, new PatchMemoryRequest { Content = "Likes black tea" }, if_Match: etag));
        Assert.Equal(412, stale.Status);
        Assert.Equal(412, stale.StatusCode);
        Assert.False(string.IsNullOrEmpty(stale.Title));
        Assert.False(string.IsNullOrEmpty(stale.TraceId));
        Assert.Equal("Likes green tea", (await sdk.GetMemoryAsync(user, created.Id)).Result.Content);
    }

    [Fact]
    public async Task ValidationProblemCarriesFieldErrors()
    {
        var sdk = await factory.NewSdkTenantAsync();

        var problem = await Assert.ThrowsAsync<MemoryServiceProblemException>(() =>
            sdk.CreateMemoryAsync(SdkTenants.NewUser(), new CreateMemoryRequest { Content = "x", Importance = 7 }));

        Assert.Equal(400, problem.Status);
        Assert.Contains("importance", problem.Errors.Keys);
        Assert.NotEmpty(problem.Errors["importance"]);
        Assert.False(string.IsNullOrEmpty(problem.TraceId));
    }

    [Fact]
    public async Task WrongKeyIsATypedUnauthorized()
    {
        var sdk = new MemoryServiceClient(factory.CreateClient(), "msk_not_a_real_key_0123456789");
        var problem = await Assert.ThrowsAsync<MemoryServiceProblemException>(() => sdk.ListMemoriesAsync(SdkTenants.NewUser()));
        Assert.Equal(401, problem.Status);
    }

    [Fact]
    public async Task SearchContextAndExtractWorkThroughTheSdk()
    {
        var sdk = await factory.NewSdkTenantAsync();
        var user = SdkTenants.NewUser();
        var tea = await sdk.CreateMemoryAsync(user, new CreateMemoryRequest { Content = "Prefers green tea over coffee", Kind = MemoryKind.Preference });
        await sdk.CreateMemoryAsync(user, new CreateMemoryRequest { Content = "Works as a carpenter", Kind = MemoryKind.Fact });

        var search = await sdk.SearchMemoriesAsync(user, new SearchRequest { Query = "green tea", Limit = 5 });
        Assert.Equal(tea.Id, search.Items[0].Memory.Id);

        var context = await sdk.BuildContextAsync(user, new ContextRequest { Query = "what should I drink?", TokenBudget = 200 });
        Assert.Contains("green tea", context.SystemPrompt);
        Assert.True(context.TokenCount <= 200);

        var extracted = await sdk.ExtractMemoriesAsync(user, new ExtractRequest
        {
            Messages = [new MessageRequest { Role = "user", Content = "I'm vegetarian." }],
        });
        var decision = Assert.Single(extracted.Decisions);
        Assert.Equal(LearningAction.Add, decision.Action);
        Assert.Equal("diet", decision.Candidate.Key);
        var learned = await sdk.GetMemoryAsync(user, Assert.Single(decision.MemoryIds));
        Assert.Equal("diet", learned.Result.Key);
    }

    [Fact]
    public async Task ExportResetAndEraseWorkThroughTheSdk()
    {
        var sdk = await factory.NewSdkTenantAsync();
        var user = SdkTenants.NewUser();
        var kept = await sdk.CreateMemoryAsync(user, new CreateMemoryRequest { Content = "Speaks Portuguese", Kind = MemoryKind.Fact });

        var export = await sdk.ExportUserAsync(user);
        Assert.Equal(user, export.UserId);
        Assert.Contains(export.Memories, m => m.Id == kept.Id);

        var reset = await sdk.ResetUserMemoriesAsync(user);
        Assert.Equal(1, reset.Deleted);
        Assert.Empty((await sdk.ListMemoriesAsync(user)).Items);

        await sdk.CreateMemoryAsync(user, new CreateMemoryRequest { Content = "Speaks French", Kind = MemoryKind.Fact });
        await sdk.EraseUserAsync(user);
        var gone = await Assert.ThrowsAsync<MemoryServiceProblemException>(() => sdk.ExportUserAsync(user));
        Assert.Equal(404, gone.Status);
    }
}
