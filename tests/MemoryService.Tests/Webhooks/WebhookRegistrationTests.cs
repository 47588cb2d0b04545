using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;
using MemoryService.Webhooks;

namespace MemoryService.Tests.Webhooks;

/// <summary>
/// Registration with the defaults: Webhooks:AllowPrivateNetworks = false refuses endpoints inside the service's own
/// network; the OpenAPI document describes the routes.
/// </summary>
public sealed class WebhookRegistrationTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task OpenApiListsTheWebhookRoutesWithTheirSchemas()
    {
        using var client = factory.CreateClient();
        var doc = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = doc.GetProperty("paths");
        string Ref(JsonElement content) => content.GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString()!;

        var create = paths.GetProperty("/v1/webhooks").GetProperty("post");
        Assert.Equal("CreateWebhook", create.GetProperty("operationId").GetString());
        Assert.EndsWith("/CreateWebhookRequest", Ref(create.GetProperty("requestBody").GetProperty("content")));
        Assert.EndsWith("/CreatedWebhookResponse", Ref(create.GetProperty("responses").GetProperty("201").GetProperty("content")));
        Assert.True(create.GetProperty("responses").TryGetProperty("422", out _));
        Assert.Equal("ListWebhooks", paths.GetProperty("/v1/webhooks").GetProperty("get").GetProperty("operationId").GetString());
        Assert.Equal("GetWebhook", paths.GetProperty("/v1/webhooks/{id}").GetProperty("get").GetProperty("operationId").GetString());
        Assert.Equal("DeleteWebhook", paths.GetProperty("/v1/webhooks/{id}").GetProperty("delete").GetProperty("operationId").GetString());
        var deliveries = paths.GetProperty("/v1/webhooks/{id}/deliveries").GetProperty("get");
        Assert.Equal("ListWebhookDeliveries", deliveries.GetProperty("operationId").GetString());

        var schemas = doc.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.GetProperty("CreatedWebhookResponse").GetProperty("properties").TryGetProperty("secret", out _));
        Assert.False(schemas.GetProperty("WebhookResponse").GetProperty("properties").TryGetProperty("secret", out _));
        var delivery = schemas.GetProperty("DeliveryResponse").GetProperty("properties");
        foreach (var field in new[] { "event_id", "status_code", "duration_ms", "next_attempt_at", "attempts", "status" })
            Assert.True(delivery.TryGetProperty(field, out _), $"DeliveryResponse has no {field}");
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080/hook")]
    [InlineData("http://localhost/hook")]
    [InlineData("http://[::1]/hook")]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://10.1.2.3/hook")]
    [InlineData("https://192.168.0.10/hook")]
    [InlineData("http://[::ffff:127.0.0.1]/hook")]
    [InlineData("http://0.0.0.0/hook")]
    public async Task EndpointOnAPrivateAddressIsA422(string url)
    {
        using var t = await factory.NewTenantAsync();
        var response = await t.Http.PostAsJsonAsync("/v1/webhooks", new { url, events = new[] { "memory.created" } });

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("public addresses", problem.GetProperty("detail").GetString());
        Assert.Empty((await ApiFactory.ReadAsync<JsonElement>(await t.Http.GetAsync("/v1/webhooks"))).GetProperty("items").EnumerateArray());
    }

    [Theory]
    [InlineData("file:///etc/passwd")]
    [InlineData("gopher://127.0.0.1:70/")]
    [InlineData("http://user:pw@127.0.0.1/hook")]
    public async Task OnlyHttpAndHttpsWithoutCredentialsAreAccepted(string url)
    {
        using var t = await factory.NewTenantAsync();
        var response = await t.Http.PostAsJsonAsync("/v1/webhooks", new { url, events = new[] { "memory.created" } });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("url", out _));
    }

    [Fact]
    public async Task ConnectionToAPrivateAddressIsRefusedAtSendTimeToo()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var guarded = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = new UrlGuard(Microsoft.Extensions.Options.Options.Create(new WebhooksOptions())).ConnectAsync,
        });
        using var allowed = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = new UrlGuard(Microsoft.Extensions.Options.Options.Create(new WebhooksOptions { AllowPrivateNetworks = true })).ConnectAsync,
        });

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => guarded.PostAsync(receiver.Url("/inside"), new StringContent("{}")));
        Assert.Contains("non-public address 127.0.0.1", refused.Message + refused.InnerException?.Message);
        Assert.Empty(receiver.All);
        Assert.Equal(HttpStatusCode.OK, (await allowed.PostAsync(receiver.Url("/inside"), new StringContent("{}"))).StatusCode);
        Assert.Single(receiver.All);
    }

    [Theory]
    [InlineData("8.8.8.8", true)]
    [InlineData("2606:4700:4700::1111", true)]
    [InlineData("127.0.0.1", false)]
    [InlineData("172.20.0.1", false)]
    [InlineData("100.100.100.200", false)]
    [InlineData("fd00:ec2::254", false)]
    [InlineData("fe80::1", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    public void OnlyPublicAddressesArePublic(string address, bool expected) =>
        Assert.Equal(expected, UrlGuard.IsPublic(IPAddress.Parse(address)));
}
