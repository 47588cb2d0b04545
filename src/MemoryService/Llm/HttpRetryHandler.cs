using System.Net;
using Polly;
using Polly.Retry;

namespace MemoryService.Llm;

/// <summary>
/// Llm:MaxRetries for a provider whose package has no retry of its own (OllamaSharp): retries 408, 429, 5xx and
/// connection failures with exponential backoff, waiting what a Retry-After header asks (at most 30 s). Only the
/// sending is retried, so a stream that has started is never repeated. Inside the guard's time limit.
/// </summary>
internal sealed class HttpRetryHandler : DelegatingHandler
{
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(30);
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;

    public HttpRetryHandler(int maxRetries, TimeSpan baseDelay) : base(new SocketsHttpHandler())
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>();
        if (maxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = maxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = baseDelay,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                {
                    { Exception: HttpRequestException } => true,
                    { Result.StatusCode: HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError } => true,
                    _ => false,
                }),
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result?.Headers.RetryAfter?.Delta is { } wait
                    ? wait < MaxRetryAfter ? wait : MaxRetryAfter
                    : (TimeSpan?)null),
                // The answer that is retried is not read; free its connection.
                OnRetry = args =>
                {
                    args.Outcome.Result?.Dispose();
                    return ValueTask.CompletedTask;
                },
            });
        }
        _pipeline = builder.Build();
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        _pipeline.ExecuteAsync(
            static (state, ct) => new ValueTask<HttpResponseMessage>(state.Handler.SendCore(state.Request, ct)),
            (Handler: this, Request: request), cancellationToken).AsTask();

    private Task<HttpResponseMessage> SendCore(HttpRequestMessage request, CancellationToken ct) => base.SendAsync(request, ct);
}
