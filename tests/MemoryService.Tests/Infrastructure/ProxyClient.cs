using System.ClientModel;
using System.ClientModel.Primitives;
using OpenAI;
using OpenAI.Chat;

namespace MemoryService.Tests.Infrastructure;

/// <summary>The official OpenAI .NET SDK pointed at the service's /v1/openai proxy with the tenant's key, as an app would.</summary>
public static class ProxyClient
{
    public static ChatClient For(TenantClient t, HttpClient transport, string model, Action<OpenAIClientOptions>? configure = null)
    {
        var options = new OpenAIClientOptions
        {
            Endpoint = new Uri(t.Http.BaseAddress!, "/v1/openai"),
            Transport = new HttpClientPipelineTransport(transport),
        };
        configure?.Invoke(options);
        return new ChatClient(model, new ApiKeyCredential(t.Http.DefaultRequestHeaders.Authorization!.Parameter!), options);
    }
}
