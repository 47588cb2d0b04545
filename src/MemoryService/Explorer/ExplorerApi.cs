using Microsoft.Extensions.FileProviders;

namespace MemoryService.Explorer;

/// <summary>
/// The memory explorer: a static page at /explorer that signs in with a tenant key typed into it and talks to /v1
/// only, so it can do nothing an API client cannot. The files are embedded in the assembly, so the page is served
/// whatever the content root (scripts/run.sh, a test host, a container).
/// </summary>
public static class ExplorerApi
{
    public const string Path = "/explorer";

    /// <summary>
    /// Scripts and styles from this origin only (no inline script or style attribute), requests to this origin only,
    /// no framing, and no form that could ever submit (and so put the key in a URL).
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

    public static WebApplication MapExplorer(this WebApplication app)
    {
        var files = new EmbeddedFileProvider(typeof(ExplorerApi).Assembly, "MemoryService.Explorer.page");
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            RequestPath = Path,
            OnPrepareResponse = c => Secure(c.Context.Response),
        });
        app.MapGet(Path, (HttpContext http) =>
            {
                Secure(http.Response);
                http.Response.Headers.CacheControl = "no-cache";
                return TypedResults.Stream(files.GetFileInfo("index.html").CreateReadStream(), "text/html; charset=utf-8");
            })
            .WithName("Explorer").WithSummary("The memory explorer page.").ExcludeFromDescription();
        return app;
    }

    private static void Secure(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.XFrameOptions = "DENY";
        response.Headers["Referrer-Policy"] = "no-referrer";
    }
}
