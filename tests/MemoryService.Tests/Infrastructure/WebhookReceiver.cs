using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace MemoryService.Tests.Infrastructure;

/// <summary>
/// A real HTTP endpoint on 127.0.0.1 that webhooks are sent to: every POST on any path is recorded (headers and the
/// exact body) and answered 200, unless told to fail the next ones or to be down.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Received> _received = new();
    private readonly ConcurrentQueue<int> _failures = new();

    public sealed record Received(string Path, IReadOnlyDictionary<string, string> Headers, string Body, int AnsweredWith)
    {
        public string Id => Headers["webhook-id"];
        public JsonElement Json => JsonDocument.Parse(Body).RootElement;
        public string Type => Json.GetProperty("type").GetString()!;
    }

    private WebhookReceiver(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    /// <summary>While true every request is answered 503.</summary>
    public bool IsDown { get; set; }

    /// <summary>Wait this long before answering (to make the sender time out).</summary>
    public TimeSpan Delay { get; set; }

    public IReadOnlyList<Received> All => _received.ToArray();

    public IReadOnlyList<Received> At(string path) => All.Where(r => r.Path == path).ToList();

    public void FailNext(int count, int statusCode = 500)
    {
        for (var i = 0; i < count; i++) _failures.Enqueue(statusCode);
    }

    /// <summary>A URL on this receiver with a path of its own.</summary>
    public string Url(string path) => BaseUrl + path;

    public static async Task<WebhookReceiver> StartAsync()
    {
        var app = LoopbackServer.Create();
        var receiver = new WebhookReceiver(app);
        app.Run(receiver.HandleAsync);
        receiver.BaseUrl = await LoopbackServer.StartAsync(app);
        return receiver;
    }

    /// <summary>Waits until <paramref name="count"/> requests answered 2xx have reached <paramref name="path"/>.</summary>
    public async Task<IReadOnlyList<Received>> WaitForDeliveredAsync(string path, int count, double seconds = 20)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            var delivered = At(path).Where(r => r.AnsweredWith is >= 200 and < 300).ToList();
            if (delivered.Count >= count) return delivered;
            await Task.Delay(50);
        }
        Assert.Fail($"{count} deliveries to {path} expected within {seconds} s; got: {string.Join(" | ", At(path).Select(r => $"{r.AnsweredWith} {r.Body}"))}");
        return [];
    }

    /// <summary>
    /// The receiver's side of Standard Webhooks, as docs/webhooks.md shows it: HMAC-SHA256 keyed with the secret's
    /// base64 part over "id.timestamp.body", compared with each "v1,..." entry of webhook-signature.
    /// </summary>
    public static bool Verifies(Received r, string secret)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var signed = $"{r.Headers["webhook-id"]}.{r.Headers["webhook-timestamp"]}.{r.Body}";
        var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(signed)));
        return r.Headers["webhook-signature"].Split(' ').Any(s =>
            CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(s), Encoding.UTF8.GetBytes(expected)));
    }

    private async Task HandleAsync(HttpContext context)
    {
        string body;
        using (var reader = new StreamReader(context.Request.Body, Encoding.UTF8))
            body = await reader.ReadToEndAsync(context.RequestAborted);
        if (Delay > TimeSpan.Zero)
        {
            try { await Task.Delay(Delay, context.RequestAborted); }
            catch (OperationCanceledException) { }
        }
        var status = IsDown ? 503 : _failures.TryDequeue(out var failure) ? failure : 200;
        var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
        _received.Enqueue(new Received(context.Request.Path.Value ?? "", headers, body, status));
        context.Response.StatusCode = status;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
