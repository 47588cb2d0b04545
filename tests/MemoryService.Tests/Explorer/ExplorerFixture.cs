using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace MemoryService.Tests.Explorer;

/// <summary>
/// One live service (a child process on a loopback port, on a database of its own), one seeded tenant, and one
/// headless chromium session shared by every explorer test. Chromium and its driver come from Debian; when they
/// are missing, scripts/prereqs.sh installs them, as it installs PostgreSQL.
/// </summary>
public sealed class ExplorerFixture : IAsyncLifetime
{
    public const string AdminKey = "explorer-admin-key-0123456789abcdefgh";
    private const string Chromium = "/usr/bin/chromium";
    private const string ChromeDriver = "/usr/bin/chromedriver";

    private readonly string _connectionString = TestDatabase.CreateDatabase();
    private ServiceProcess? _service;
    private readonly string _profile = Directory.CreateTempSubdirectory("explorer-chromium-").FullName;

    public string BaseUrl => _service!.BaseUrl;
    public string Key { get; private set; } = "";
    public HttpClient Api { get; private set; } = null!;
    public IWebDriver Browser { get; private set; } = null!;

    /// <summary>The seeded user's memories, by what they say.</summary>
    public Guid Vegetarian { get; private set; }
    public Guid Pescatarian { get; private set; }
    public Guid Translator { get; private set; }

    /// <summary>EXPLORER_SCREENSHOTS (e.g. docs/img) when set, else under the test run's results.</summary>
    public string ScreenshotDirectory { get; } = Environment.GetEnvironmentVariable("EXPLORER_SCREENSHOTS") is { Length: > 0 } dir
        ? Path.GetFullPath(dir)
        : Path.Combine(AppContext.BaseDirectory, "TestResults", "explorer");

    public const string User = "ada-lovelace";

    public async Task InitializeAsync()
    {
        EnsureBrowserInstalled();
        _service = await ServiceProcess.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings__Memory"] = _connectionString,
            ["Auth__AdminKey"] = AdminKey,
            ["Embeddings__Provider"] = "hashing",
            ["RateLimit__PermitsPerSecond"] = "100000",
            ["RateLimit__Burst"] = "100000",
        }, TimeSpan.FromSeconds(60));

        Api = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        Key = await _service.NewTenantKeyAsync(AdminKey, "explorer");
        Api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        await SeedAsync();

        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriver)!, Path.GetFileName(ChromeDriver));
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
            "--no-first-run", "--disable-extensions", "--disable-background-networking", $"--user-data-dir={_profile}");
        Browser = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    public async Task DisposeAsync()
    {
        try { Browser?.Quit(); } catch (WebDriverException) { }
        Browser?.Dispose();
        Api?.Dispose();
        _service?.Dispose();
        TestDatabase.DropDatabase(_connectionString);
        try { Directory.Delete(_profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        await Task.CompletedTask;
    }

    public void Screenshot(string name)
    {
        var path = Path.Combine(ScreenshotDirectory, name + ".png");
        ((ITakesScreenshot)Browser).GetScreenshot().SaveAsFile(path);
    }

    private async Task SeedAsync()
    {
        // A supersede, the way the service makes one: learning a changed diet.
        Vegetarian = await LearnAsync("I'm vegetarian.");
        Pescatarian = await LearnAsync("Actually I eat fish now, I'm pescatarian.");
        Translator = await CreateAsync(User, new { content = "Works as a translator in Lisbon", kind = "fact", importance = 0.8, tags = new[] { "work" } });
        await CreateAsync(User, new { content = "Prefers short answers without emojis", kind = "preference", key = "response_style", importance = 0.9 });
        await CreateAsync(User, new { content = "Flew to Tokyo for a translation conference", kind = "event" });
        await CreateAsync(User, new { content = "Cooks a fish curry every Friday", kind = "fact", importance = 0.6, tags = new[] { "food", "cooking" } });
        await CreateAsync(User, new { content = "Has a cat called Babbage", kind = "fact", importance = 0.4 });
        foreach (var other in new[] { "grace-hopper", "alan-turing", "Grace-Brewster" })
            await CreateAsync(other, new { content = $"{other} likes compilers", kind = "fact" });
        var knowledge = await Api.PostAsJsonAsync("/v1/knowledge", new { content = "Support answers within one business day" }, ApiFactory.Json);
        await ApiFactory.ReadAsync<JsonElement>(knowledge);
    }

    private async Task<Guid> LearnAsync(string said)
    {
        var outcome = await ApiFactory.ReadAsync<JsonElement>(await Api.PostAsJsonAsync($"/v1/users/{User}/memories/extract", new
        {
            messages = new[] { new { role = "user", content = said }, new { role = "assistant", content = "Noted!" } },
        }, ApiFactory.Json));
        return outcome.GetProperty("decisions")[0].GetProperty("memory_ids")[0].GetGuid();
    }

    public async Task<Guid> CreateAsync(string user, object body)
    {
        var created = await ApiFactory.ReadAsync<JsonElement>(await Api.PostAsJsonAsync($"/v1/users/{user}/memories", body, ApiFactory.Json));
        return created.GetProperty("id").GetGuid();
    }

    private static void EnsureBrowserInstalled()
    {
        if (File.Exists(Chromium) && File.Exists(ChromeDriver)) return;
        var root = AppContext.BaseDirectory;
        while (root is not null && !File.Exists(Path.Combine(root, "MemoryService.sln"))) root = Path.GetDirectoryName(root);
        Assert.True(root is not null, "chromium is missing and the repository (scripts/prereqs.sh) was not found above the test assembly");
        using var prereqs = Process.Start(new ProcessStartInfo("bash", [Path.Combine(root!, "scripts", "prereqs.sh"), "--tests"]) { UseShellExecute = false })!;
        prereqs.WaitForExit();
        Assert.True(prereqs.ExitCode == 0 && File.Exists(Chromium) && File.Exists(ChromeDriver),
            $"scripts/prereqs.sh (exit {prereqs.ExitCode}) did not install {Chromium} and {ChromeDriver}");
    }
}
