using System.Net;
using System.Net.Http.Json;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Chat;

public sealed class ChatWithoutModelTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task ChatAndProxyAre503ButContextWorksWhenNoModelIsConfigured()
    {
        using var t = await factory.NewTenantAsync();
        var messages = new[] { new { role = "user", content = "hi" } };

        var chat = await t.Http.PostAsJsonAsync("/v1/users/u1/chat", new { messages });
        var proxy = await t.Http.PostAsJsonAsync("/v1/openai/chat/completions", new { model = "m", user = "u1", messages });
        var context = await t.Http.PostAsJsonAsync("/v1/users/u1/context", new { query = "hi" });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, chat.StatusCode);
        Assert.Equal("application/problem+json", chat.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Llm:Provider=openai", await chat.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, proxy.StatusCode);
        Assert.Equal("application/problem+json", proxy.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, context.StatusCode);
    }
}
