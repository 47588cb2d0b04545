namespace MemoryService.Tests.Infrastructure;

/// <summary>
/// The service with a model provider (chat or embeddings) replaced by a real local <see cref="FakeOpenAiServer"/>,
/// started before the host so its URL can go into the settings. Subclasses say which settings point at it.
/// </summary>
public abstract class FakeOpenAiApiFactory : ApiFactory, IAsyncLifetime
{
    public FakeOpenAiServer Fake { get; private set; } = null!;

    /// <summary>Points the service's settings at the started server.</summary>
    protected abstract void UseServer(Uri baseUrl);

    /// <summary>The server as the chat model (Llm:*), without SDK retries so failures show at once.</summary>
    protected void UseAsChatModel(Uri baseUrl, string model)
    {
        Settings["Llm:Provider"] = "openai";
        Settings["Llm:BaseUrl"] = baseUrl.ToString();
        Settings["Llm:Model"] = model;
        Settings["Llm:MaxRetries"] = "0";
    }

    async Task IAsyncLifetime.InitializeAsync()
    {
        Fake = await FakeOpenAiServer.StartAsync();
        UseServer(Fake.BaseUrl);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (Fake is not null) await Fake.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
