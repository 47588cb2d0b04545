using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Chat;

/// <summary>The service with its model replaced by a <see cref="FakeOpenAiServer"/>, started before the host.</summary>
public sealed class ChatApiFactory : ApiFactory, IAsyncLifetime
{
    public FakeOpenAiServer Model { get; private set; } = null!;

    async Task IAsyncLifetime.InitializeAsync()
    {
        Model = await FakeOpenAiServer.StartAsync();
        Settings["Llm:Provider"] = "openai";
        Settings["Llm:BaseUrl"] = Model.BaseUrl.ToString();
        Settings["Llm:Model"] = "test-model";
        Settings["Llm:TimeoutSeconds"] = "2";
        Settings["Llm:MaxRetries"] = "0";
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (Model is not null) await Model.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
