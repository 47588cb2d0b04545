using System.ComponentModel;
using System.Text;
using MemoryService.Hosting;
using MemoryService.Memories;
using MemoryService.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace MemoryService.Webhooks;

/// <summary>Endpoints that hear about memory changes: /v1/webhooks.</summary>
public static class WebhooksApi
{
    public sealed record CreateWebhookRequest(
        [property: Description("Where events are POSTed: an http or https URL on a public address.")] string? Url,
        [property: Description("Event types to receive, e.g. memory.created, memory.updated, user.erased.")] IReadOnlyList<string>? Events,
        [property: Description("A note for your own records.")] string? Description = null);

    public sealed record WebhookResponse(Guid Id, string Url, IReadOnlyList<string> Events, string? Description, DateTimeOffset CreatedAt,
        bool Enabled, int ConsecutiveFailures, DateTimeOffset? DisabledAt, string? DisabledReason);

    /// <summary>The endpoint with its signing secret: shown in this response only.</summary>
    public sealed record CreatedWebhookResponse(Guid Id, string Url, IReadOnlyList<string> Events, string? Description, DateTimeOffset CreatedAt,
        bool Enabled, [property: Description("whsec_<base64>: verify each request's webhook-signature with it. Shown only now.")] string Secret);

    public sealed record DeliveryResponse(long Id, Guid EventId, string EventType,
        [property: Description("pending, running, delivered or failed (retries gave up, or the endpoint was disabled).")] string Status,
        int Attempts, [property: Description("HTTP status of the latest attempt; null when it got no response.")] int? StatusCode,
        int? DurationMs, string? Error, [property: Description("When the next attempt is due, while pending.")] DateTimeOffset? NextAttemptAt,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public static IHostApplicationBuilder AddWebhooks(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WebhooksOptions>().BindConfiguration("Webhooks").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<UrlGuard>();
        builder.Services.AddSingleton<WebhookOutbox>();
        builder.Services.AddSingleton<WebhookStore>();
        builder.Services.AddSingleton<WebhookDeliveries>();
        builder.Services.AddHttpClient(WebhookDispatcher.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(sp => new SocketsHttpHandler
            {
                // Redirects could lead past the address check, and a proxy would connect on our behalf: neither.
                AllowAutoRedirect = false,
                UseProxy = false,
                ConnectCallback = sp.GetRequiredService<UrlGuard>().ConnectAsync,
                PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            })
            .ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan);
        builder.Services.AddHostedService<WebhookDispatcher>();
        return builder;
    }

    public static RouteGroupBuilder MapWebhooks(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/webhooks").WithTags("Webhooks")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status404NotFound, StatusCodes.Status429TooManyRequests, StatusCodes.Status503ServiceUnavailable);
        group.MapPost("", Create).WithName("CreateWebhook")
            .WithSummary("Register an endpoint for events; the response carries its signing secret, shown only this once.")
            .ProducesProblems(StatusCodes.Status409Conflict, StatusCodes.Status422UnprocessableEntity);
        group.MapGet("", List).WithName("ListWebhooks").WithSummary("The tenant's webhook endpoints, oldest first.");
        group.MapGet("/{id:guid}", Get).WithName("GetWebhook").WithSummary("One endpoint: its events, and whether it is enabled.");
        group.MapDelete("/{id:guid}", Delete).WithName("DeleteWebhook").WithSummary("Remove an endpoint; its undelivered events are dropped.");
        group.MapGet("/{id:guid}/deliveries", Deliveries).WithName("ListWebhookDeliveries")
            .WithSummary("Recent deliveries to the endpoint, newest first: event, status code, duration, next retry.");
        return group;
    }

    private static async Task<Results<Created<CreatedWebhookResponse>, ValidationProblem, ProblemHttpResult>> Create(
        CreateWebhookRequest request, Caller caller, WebhookStore store, UrlGuard guard, CancellationToken ct)
    {
        var errors = Validate(request, out var url);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        if (await guard.CheckAsync(url!, ct) is { } refused) return TypedResults.Problem(Problems.Unprocessable(refused));

        var events = request.Events!.Distinct().ToList();
        var created = await store.CreateAsync(caller.TenantId, url!.AbsoluteUri, events, request.Description, ct);
        if (created is not { } c)
            return TypedResults.Problem(Problems.Conflict("This tenant has as many webhooks as allowed (Webhooks:MaxWebhooksPerTenant); delete one first."));
        var w = c.Webhook;
        return TypedResults.Created($"/v1/webhooks/{w.Id}",
            new CreatedWebhookResponse(w.Id, w.Url, w.Events, w.Description, w.CreatedAt, w.Enabled, c.Secret));
    }

    private static async Task<Ok<ListResponse<WebhookResponse>>> List(Caller caller, WebhookStore store, CancellationToken ct) =>
        TypedResults.Ok(new ListResponse<WebhookResponse>((await store.ListAsync(caller.TenantId, ct)).Select(AsResponse).ToList(), null));

    private static async Task<Results<Ok<WebhookResponse>, ProblemHttpResult>> Get(Guid id, Caller caller, WebhookStore store, CancellationToken ct) =>
        await store.GetAsync(caller.TenantId, id, ct) is { } w ? TypedResults.Ok(AsResponse(w)) : TypedResults.Problem(Problems.NotFound("webhook"));

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(Guid id, Caller caller, WebhookStore store, CancellationToken ct) =>
        await store.DeleteAsync(caller.TenantId, id, ct) ? TypedResults.NoContent() : TypedResults.Problem(Problems.NotFound("webhook"));

    private static async Task<Results<Ok<ListResponse<DeliveryResponse>>, ValidationProblem, ProblemHttpResult>> Deliveries(
        Guid id, Caller caller, WebhookStore store,
        [Description("pending, running, delivered or failed.")] string? status,
        [Description("1-100, default 20.")] int? limit,
        [Description("next_cursor of the previous page.")] string? cursor, CancellationToken ct)
    {
        var take = limit ?? 20;
        if (take is < 1 or > 100) return TypedResults.ValidationProblem(Problems.Field("limit", "Between 1 and 100."));
        if (status is not (null or "pending" or "running" or "delivered" or "failed"))
            return TypedResults.ValidationProblem(Problems.Field("status", "One of pending, running, delivered, failed."));
        long? before = null;
        if (cursor is not null)
        {
            before = DecodeCursor(cursor);
            if (before is null) return TypedResults.ValidationProblem(Problems.Field("cursor", "Not a cursor this API issued."));
        }
        var page = await store.DeliveriesAsync(caller.TenantId, id, before, status, take + 1, ct);
        if (page is null) return TypedResults.Problem(Problems.NotFound("webhook"));
        var next = page.Count > take ? EncodeCursor(page[take - 1].Id) : null;
        return TypedResults.Ok(new ListResponse<DeliveryResponse>(page.Take(take).Select(d => new DeliveryResponse(d.Id, d.EventId, d.EventType,
            d.Status, d.Attempts, d.StatusCode, d.DurationMs, d.Error, d.NextAttemptAt, d.CreatedAt, d.UpdatedAt)).ToList(), next));
    }

    private static Dictionary<string, string[]> Validate(CreateWebhookRequest r, out Uri? url)
    {
        var errors = new Dictionary<string, string[]>();
        url = null;
        if (string.IsNullOrWhiteSpace(r.Url) || r.Url.Length > 2048)
            MemoryValidation.Add(errors, "url", "Required: an absolute http or https URL of at most 2048 characters.");
        else if (!Uri.TryCreate(r.Url, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https") || url.Host.Length == 0)
            MemoryValidation.Add(errors, "url", "Only absolute http or https URLs.");
        else if (url.UserInfo.Length > 0)
            MemoryValidation.Add(errors, "url", "Credentials in the URL are not accepted; authenticate requests by their signature.");
        if (r.Events is null || r.Events.Count == 0)
            MemoryValidation.Add(errors, "events", $"Give 1 or more of: {string.Join(", ", WebhookEventTypes.All)}.");
        else if (r.Events.Count > 100)
            MemoryValidation.Add(errors, "events", "At most 100 entries.");
        else if (r.Events.Where(e => e is null || !WebhookEventTypes.All.Contains(e)).Select(e => e ?? "null").FirstOrDefault() is { } unknown)
            MemoryValidation.Add(errors, "events", $"Unknown event type '{unknown}'; known: {string.Join(", ", WebhookEventTypes.All)}.");
        if (r.Description is { } d && (d.Length > 500 || d.Any(c => char.IsControl(c) && c is not ('\n' or '\t'))))
            MemoryValidation.Add(errors, "description", "At most 500 characters without control characters.");
        return errors;
    }

    private static WebhookResponse AsResponse(WebhookInfo w) =>
        new(w.Id, w.Url, w.Events, w.Description, w.CreatedAt, w.Enabled, w.ConsecutiveFailures, w.DisabledAt, w.DisabledReason);

    private static string EncodeCursor(long id) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes("d:" + id)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static long? DecodeCursor(string cursor)
    {
        try
        {
            var b64 = cursor.Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(b64));
            return text.StartsWith("d:", StringComparison.Ordinal) && long.TryParse(text[2..], out var id) && id > 0 ? id : null;
        }
        catch (FormatException) { return null; }
    }
}
