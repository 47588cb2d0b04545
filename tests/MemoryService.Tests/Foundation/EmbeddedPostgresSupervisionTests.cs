using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.Versioning;
using System.Text;
using MemoryService.Tests.Walkthrough;
using Xunit.Abstractions;
using ServiceProcess = MemoryService.Tests.Walkthrough.ReadmeWalkthroughTests.ChildService;

namespace MemoryService.Tests.Foundation;

/// <summary>
/// The real service on the embedded default (a child process, its own cluster) when its postmaster is
/// killed: writes answer 503 problem+json quickly, the server is started again without restarting the
/// service, and a server that cannot come back stops the service with a non-zero exit code.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class EmbeddedPostgresSupervisionTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RecoversWithin = TimeSpan.FromSeconds(30);

    // Under /tmp and 755: as root, the embedded server runs as the postgres user, which must reach it.
    private readonly string _root = ReadmeWalkthroughTests.CreateRoot("memsvc-sup-");
    private ServiceProcess? _service;

    private string DataDirectory => Path.Combine(_root, "data");
    private string PidFile => Path.Combine(DataDirectory, "pgdata", "postmaster.pid");

    [Fact]
    public async Task AKilledPostmasterGives503sThenWritesSucceedAgainWithoutRestartingTheService()
    {
        _service = await ServiceProcess.StartAsync(DataDirectory);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(DataDirectory, "default-api-key.txt")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(DataDirectory, "pgdata.secret")));
        using var client = Client(File.ReadAllText(Path.Combine(DataDirectory, "default-api-key.txt")).Trim());
        Assert.Equal(HttpStatusCode.Created, (await Write(client, "before")).StatusCode);

        var postmaster = int.Parse(File.ReadLines(PidFile).First());
        ReadmeWalkthroughTests.Signal("KILL", postmaster);
        var clock = Stopwatch.StartNew();
        // Backends outlive a killed postmaster by a moment (they notice its death on their next wait), so a write sent
        // at once can still be served by a pooled connection: wait until the postmaster is gone and its backends with it.
        while (Directory.Exists($"/proc/{postmaster}") && clock.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(20);
        await Task.Delay(300);

        var unavailable = 0;
        var unready = 0;
        HttpStatusCode status;
        while (true)
        {
            // The client's timeout is the request timeout: a hang fails the test with TaskCanceledException.
            var started = clock.Elapsed;
            if ((await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.ServiceUnavailable) unready++;
            using var response = await Write(client, "during");
            status = response.StatusCode;
            if (status == HttpStatusCode.Created) break;
            Assert.True(status == HttpStatusCode.ServiceUnavailable,
                $"a write while the database is down answered {(int)status}: {await response.Content.ReadAsStringAsync()}\n{_service.Output}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.True(clock.Elapsed - started < RequestTimeout, $"a 503 took {(clock.Elapsed - started).TotalSeconds:0.0} s");
            unavailable++;
            Assert.True(clock.Elapsed < RecoversWithin, $"writes did not succeed again within {RecoversWithin.TotalSeconds:0} s:\n{_service.Output}");
            await Task.Delay(100);
        }
        output.WriteLine($"recovered {clock.Elapsed.TotalSeconds:0.0} s after kill -9 of the postmaster ({unavailable} writes answered 503)");
        Assert.True(unavailable > 0, "no write saw the outage");
        Assert.True(unready > 0, "/health/ready never answered 503 during the outage");
        // Readiness follows the supervisor's next poll (once a second), so it may trail the first successful write.
        var ready = HttpStatusCode.ServiceUnavailable;
        for (var wait = Stopwatch.StartNew(); wait.Elapsed < TimeSpan.FromSeconds(10) && ready != HttpStatusCode.OK; await Task.Delay(100))
            ready = (await client.GetAsync("/health/ready")).StatusCode;
        Assert.Equal(HttpStatusCode.OK, ready);
        Assert.NotEqual(postmaster, int.Parse(File.ReadLines(PidFile).First()));
        Assert.Contains("Embedded PostgreSQL server restarted", _service.Output);
        Assert.True(await _service.StopAsync(TimeSpan.FromSeconds(30)), "the service did not stop on SIGTERM after the recovery");
    }

    [Fact]
    public async Task AServerThatCannotComeBackStopsTheServiceWithANonZeroExitCode()
    {
        _service = await ServiceProcess.StartAsync(DataDirectory, new Dictionary<string, string> { ["Storage__RestartAttempts"] = "2" });
        // Every restart is refused: the socket directory is no longer private.
        File.SetUnixFileMode(Path.Combine(DataDirectory, "run"), (UnixFileMode)0b111_111_111);
        ReadmeWalkthroughTests.Signal("KILL", int.Parse(File.ReadLines(PidFile).First()));

        var exitCode = await _service.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.True(exitCode is not null, $"the service still runs 30 s after its database was lost for good:\n{_service.Output}");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("could not be restarted after 2 attempts", _service.Output);
    }

    private static Task<HttpResponseMessage> Write(HttpClient client, string content) =>
        client.PostAsync("/v1/users/supervised/memories",
            new StringContent($$"""{"content": "{{content}}", "kind": "fact"}""", Encoding.UTF8, "application/json"));

    private HttpClient Client(string key)
    {
        var client = new HttpClient { BaseAddress = new Uri(_service!.BaseUrl), Timeout = RequestTimeout };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_service is not null && !await _service.StopAsync(TimeSpan.FromSeconds(30))) _service.Kill();
        _service?.Dispose();
        if (File.Exists(PidFile) && int.TryParse(File.ReadLines(PidFile).FirstOrDefault(), out var pid) && ReadmeWalkthroughTests.IsRunning(pid))
            ReadmeWalkthroughTests.Signal("INT", pid);
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
